"""Background jobs from the window: ``submit`` (a job whose events the Tk thread sees, whose failure
is shown in a dialog) and where trials run (the backend, switched in a quick job). Part of lab.gui.app.App."""
from __future__ import annotations

import logging
from collections.abc import Callable

from lab.backends import Backend, BackendConfig, BackendError, make_backend
from lab.jobs import JobEnded

log = logging.getLogger("lab.gui")


class Jobs:
    def submit(self, fn, *args, title: str, on_event=None, quick: bool = False):
        """Run ``fn(job, *args)`` as a background job; ``on_event`` sees its events on the Tk thread.
        A job that fails shows its error in a dialog and the log. ``quick``: a short job (seconds) that
        runs on its own worker, beside a long one, instead of waiting for it."""
        if not quick:   # the settings a long job starts with are kept even if the lab is killed during it
            try:
                self.save_settings()
            except Exception as exc:  # noqa: BLE001 - a form that cannot be read must not stop the job
                log.warning("settings not saved: %s", exc)
        job = (self.quick_runner if quick else self.runner).submit(fn, *args, title=title, on_event=on_event)

        def on_end(event) -> None:
            if isinstance(event, JobEnded) and event.state == "failed":
                log.error("job %s failed: %s\n%s", title, event.error, event.details or "")
                self.dialogs.error(f"{title} failed", event.error or "unknown error")
        job.subscribe(on_end)
        return job

    # ---- where trials run ----------------------------------------------------------------------
    def show_backend_dialog(self):
        from lab.gui.backend_dialog import BackendDialog
        return BackendDialog(self)

    def apply_backend(self, config: BackendConfig, on_done: Callable[[bool, str], None] | None = None):
        """Set up the backend ``config`` names in a quick job and switch to it once it is up (the old
        one is closed). Refused while a job runs: its trials are on the current backend. Returns the
        job, or None if refused. ``on_done(ok, message)`` is called on the Tk thread."""
        if self.runner.active_jobs():
            self.dialogs.error("Where trials run", "A job is running on the current backend; stop it first.")
            return None

        def connect(job):
            try:
                return make_backend(config)
            except BackendError as exc:  # a bad address or no scheduler: the user's to fix, not a failure
                return exc

        def on_event(event) -> None:
            if not isinstance(event, JobEnded):
                return
            result = event.result
            if event.state == "done" and isinstance(result, Backend):
                old, self.backend = self.backend, result
                self.status.show_backend(self.backend.status().text())
                self.status_message.set(f"trials now run on {config.label}")
                log.info("trials now run on %s", self.backend.status().text())
                if old is not self.backend:
                    old.close()
                ok, text = True, ""
            else:
                text = str(result) if isinstance(result, BackendError) else (event.error or event.state)
                ok = False
                log.warning("trials stay on %s: %s", self.backend.config.label, text)
                if on_done is None:
                    self.dialogs.error("Where trials run", text)
            if on_done is not None:
                on_done(ok, text)
        return self.submit(connect, title=f"Connecting to {config.label}", on_event=on_event, quick=True)
