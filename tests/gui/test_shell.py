"""The application shell: tabs, menus and shortcuts from one table, status bar, event hub wiring,
errors in callbacks (dialog and log, the app stays up), registry switching and closing with a job."""
from __future__ import annotations

import threading
import tkinter as tk

import pytest

from lab.gui.app import MENUS, TABS, command_table
from tests.gui.conftest import wait_until


def test_window_has_the_five_tabs_status_bar_and_minimum_size(lab_app):
    nb = lab_app.notebook
    assert [nb.tab(t, "text") for t in nb.tabs()] == list(TABS) == ["Evolution Lab", "Gene Forge",
                                                                    "Stress Chamber", "Phylogeny", "Insights"]
    assert lab_app.registry_tip.text == str(lab_app.registry.root)
    assert lab_app.device_label.cget("text") == "Device: cpu"
    assert lab_app.root.minsize() == (1100, 700)
    assert all(lab_app.tabs[title] is not None for title in TABS), "every tab is built"


def test_menus_and_shortcuts_come_from_the_one_command_table(lab_app):
    COMMANDS = lab_app.commands.commands
    assert COMMANDS == command_table(), "the tabs add the commands their modules declare, in tab order"
    assert [c.name for c in COMMANDS if c.menu == "Run"] == ["start_run", "pause_run", "stop_run", "resume_run",
                                                            "direct_run", "fit_insights", "propose_genomes",
                                                            "mechanism", "backend_settings"]
    for name in MENUS:
        menu = lab_app.menus[name]
        labels = [menu.entrycget(i, "label") for i in range(menu.index("end") + 1)]
        accels = [menu.entrycget(i, "accelerator") for i in range(menu.index("end") + 1)]
        table = [c for c in COMMANDS if c.menu == name]
        assert labels == [c.label for c in table]
        assert accels == [c.shortcut for c in table]
    assert all(c.name in lab_app.handlers for c in COMMANDS), "every command has a handler"
    for c in COMMANDS:
        if c.sequence:
            assert lab_app.root.bind_all(c.sequence), f"{c.sequence} is bound"
    shown = lab_app.shortcuts_text()
    assert "F5" in shown and "Ctrl+Q" in shown
    assert [c.name for c in COMMANDS if c.name == "reset_settings"] == ["reset_settings"]


def test_a_keyboard_shortcut_does_what_its_menu_item_does(lab_app):
    root = lab_app.root
    root.focus_force()
    lab_app.notebook.focus_set()
    root.update()
    lab_app.notebook.event_generate("<Control-Key-3>")
    root.update()
    assert lab_app.notebook.tab(lab_app.notebook.select(), "text") == "Stress Chamber"
    lab_app.invoke("show_tab_1")
    assert lab_app.notebook.index(lab_app.notebook.select()) == 0
    lab_app.invoke("toggle_log")
    assert lab_app.log_visible
    lab_app.invoke("toggle_log")
    assert not lab_app.log_visible
    dialog = lab_app.invoke("shortcuts")
    try:
        assert dialog.exists() and dialog.window.title() == "Keyboard shortcuts"
    finally:
        dialog.close()


def test_a_tab_adds_its_commands_and_the_shortcut_names_its_tk_sequence():
    from lab.gui.commands import key_sequence
    assert [key_sequence(k) for k in ("Ctrl+O", "Ctrl+Shift+E", "Ctrl+1", "F5", "Shift+F5", "")] == \
        ["<Control-o>", "<Control-E>", "<Control-Key-1>", "<F5>", "<Shift-F5>", ""]


def test_add_command_puts_a_command_in_the_menu_the_keys_and_f1_and_refuses_a_taken_shortcut(lab_app):
    with pytest.raises(ValueError, match="taken"):
        lab_app.add_command("another_start", "Start again", lambda: None, menu="Run", keys="F5")
    with pytest.raises(ValueError, match="already"):
        lab_app.add_command("start_run", "Start", lambda: None, menu="Run")
    assert "another_start" not in lab_app.handlers


def test_show_tab_brings_a_tab_forward_and_tabs_hear_which(lab_app):
    heard = []
    unsubscribe = lab_app.hub.subscribe("tab_shown", lambda title: heard.append(title))
    try:
        lab_app.show_tab("Gene Forge")
        lab_app.root.update()
        assert lab_app.shown_tab() == "Gene Forge" and heard[-1] == "Gene Forge"
        lab_app.show_tab("Evolution Lab")
        lab_app.root.update()
        assert lab_app.shown_tab() == "Evolution Lab" and heard[-1] == "Evolution Lab"
    finally:
        unsubscribe()


def test_calls_posted_from_other_threads_run_on_the_tk_thread_through_the_one_poller(lab_app):
    ran = []
    worker = threading.Thread(target=lambda: lab_app.bridge.post(lambda x: ran.append((x, threading.current_thread())),
                                                                 7))
    worker.start()
    worker.join()
    assert ran == [], "nothing runs on the worker"
    wait_until(lab_app.root, lambda: ran, timeout=5)
    assert ran == [(7, threading.main_thread())]


def test_the_shortcuts_dialog_is_a_table_of_shortcut_and_command_grouped_by_menu(lab_app):
    dialog = lab_app.invoke("shortcuts")
    try:
        lab_app.root.update()
        assert dialog.table.cget("columns") == ("shortcut", "command")
        assert [dialog.table.heading(c, "text") for c in ("shortcut", "command")] == ["Shortcut", "Command"]
        rows = dialog.rows()
        COMMANDS = lab_app.commands.commands
        expected = [(c.menu, c.shortcut, c.label.removesuffix("...")) for m in MENUS for c in COMMANDS
                    if c.menu == m and c.shortcut]
        expected += [("Text fields", "Ctrl+A", "Select the whole field (then type to replace it)")]
        assert rows == expected, "every shortcut of the table, in menu order, one per row"
        assert ("Run", "F5", "Start evolution") in rows and ("Help", "F1", "Keyboard shortcuts") in rows
        menus = [dialog.table.item(i, "values")[0] for i in dialog.table.get_children()
                 if "menu" in dialog.table.item(i, "tags")]
        assert menus == ["File menu", "View menu", "Run menu", "Help menu", "Text fields"]
        assert lab_app.invoke("shortcuts") is dialog, "F1 again brings the open window forward"
        dialog.window.event_generate("<Escape>")
        lab_app.root.update()
        assert not dialog.exists()
    finally:
        dialog.close()


def test_showing_the_log_leaves_the_run_controls_and_status_bar_on_screen(lab_app):
    root = lab_app.root
    root.geometry("1280x760")
    lab_app.invoke("show_tab_1")
    tab = lab_app.tabs["Evolution Lab"]
    lab_app.invoke("toggle_log")
    try:
        wait_until(root, lambda: lab_app.log_pane.winfo_height() > 1, timeout=5)
        root.update()
        bottom = root.winfo_rooty() + root.winfo_height()

        def inside(widget) -> bool:   # wholly within the window, not cut off by the log pane
            y = widget.winfo_rooty() + widget.winfo_height()
            top = lab_app.log_pane.winfo_rooty()
            return widget.winfo_ismapped() and widget.winfo_height() > 1 and y <= top
        for widget in (tab.start_button, tab.resume_button, tab.gen_bar, tab.run_bar):
            assert inside(widget), f"{widget} is hidden behind the log pane"
        assert lab_app.job_progress.winfo_rooty() + lab_app.job_progress.winfo_height() <= bottom
        assert 60 <= lab_app.log_pane.winfo_height() <= 200, "the log takes a modest share of the window"
    finally:
        lab_app.invoke("toggle_log")


def test_theme_switches_between_light_and_dark(lab_app):
    assert lab_app.theme == "light" and lab_app.style.theme_use() == "sun-valley-light"
    lab_app.invoke("toggle_theme")
    try:
        assert lab_app.theme == "dark" and lab_app.style.theme_use() == "sun-valley-dark"
        assert lab_app.log_text.cget("background") == "#262626"
        # the plain Tk parts follow too: diversity grid, chart toolbar, the Stress Chamber's group list
        evo, stress = lab_app.tabs["Evolution Lab"], lab_app.tabs["Stress Chamber"]
        dark = "#1c1c1c"   # sv-ttk's dark background
        assert evo.grid.cget("background") == "#2a2a2a"
        toolbar = evo.charts.toolbar
        assert toolbar.cget("background") == dark
        assert all(str(toolbar._buttons[b]["state"]) == "normal" for b in ("Back", "Forward")), \
            "never a stippled (checkered) disabled icon"
        assert str(toolbar._buttons["Home"].cget("image")) == str(toolbar._buttons["Home"]._ntimage_alt), \
            "light icons on the dark toolbar"
        assert stress.controls.canvas.cget("background") == "#262626"
        from lab.gui.direct_run import open_direct_run
        window = open_direct_run(lab_app, "m2n2", None, None)   # another window, opened dark, then switched
        try:
            assert window.charts.toolbar.cget("background") == dark
            lab_app.invoke("toggle_theme")
            assert window.charts.toolbar.cget("background") != dark
            lab_app.invoke("toggle_theme")
            assert window.charts.toolbar.cget("background") == dark
        finally:
            window.close()
            lab_app.dialogs.shown.clear()
        stress.controls.set_groups(["a", "b"], {"a": "#ff0000"})
        assert stress.controls.group_buttons["a"].cget("background") == "#262626"
        assert stress.controls.swatches["a"].cget("background") == "#ff0000", "a swatch keeps its colour"
    finally:
        lab_app.invoke("toggle_theme")
        lab_app.tabs["Stress Chamber"].controls.set_groups([])
    assert lab_app.theme == "light" and lab_app.style.theme_use() == "sun-valley-light"
    assert lab_app.tabs["Evolution Lab"].grid.cget("background") == "#f0f0f0"
    toolbar = lab_app.tabs["Evolution Lab"].charts.toolbar
    assert str(toolbar._buttons["Home"].cget("image")) == str(toolbar._buttons["Home"]._ntimage)


def test_an_error_in_a_callback_shows_a_dialog_and_the_log_and_the_app_stays_up(app):
    app.dialogs.shown.clear()

    def broken(**_):
        raise RuntimeError("a subscriber broke")

    unsubscribe = app.hub.subscribe("status", broken)
    try:
        app.hub.publish("status", text="hello")
    finally:
        unsubscribe()
    app.root.update()
    wait_until(app.root, lambda: "a subscriber broke" in app.log_text.get("1.0", "end"), timeout=5)
    assert any("a subscriber broke" in d[2] for d in app.dialogs.errors())
    assert app.status_message.get() == "hello", "the other subscribers still ran"
    app.dialogs.shown.clear()
    app.invoke("show_tab_2")  # still alive and responding
    assert app.notebook.index(app.notebook.select()) == 1
    app.invoke("show_tab_1")


def test_a_failing_job_reports_its_error_and_the_app_stays_up(app):
    app.dialogs.shown.clear()

    def failing(job):
        raise ValueError("the job went wrong")

    job = app.submit(failing, title="Broken job")
    wait_until(app.root, lambda: not job.active, timeout=10)
    assert job.state == "failed" and "the job went wrong" in job.error
    assert any("the job went wrong" in d[2] for d in app.dialogs.errors())
    app.dialogs.shown.clear()


def test_registry_folder_can_be_switched_and_tabs_hear_of_it(lab_app, tmp_path):
    old = lab_app.registry
    heard = []
    unsubscribe = lab_app.hub.subscribe("registry_changed", lambda registry: heard.append(registry))
    try:
        lab_app.dialogs.answers["directory"] = str(tmp_path / "other")
        lab_app.invoke("choose_registry")
        assert lab_app.registry.root == (tmp_path / "other").absolute()
        assert heard and heard[-1] is lab_app.registry
        assert lab_app.registry_tip.text == str(tmp_path / "other")
        # a path that is a file is refused with a message, and the registry stays
        (tmp_path / "a-file").write_text("x")
        lab_app.set_registry(tmp_path / "a-file")
        assert lab_app.dialogs.errors() and "is a file" in lab_app.dialogs.errors()[-1][2]
        lab_app.dialogs.shown.clear()
        assert lab_app.registry.root == (tmp_path / "other").absolute()
    finally:
        unsubscribe()
        lab_app.dialogs.answers.clear()
        lab_app.set_registry(old.root)


def test_import_and_export_genomes_through_the_file_menu(lab_app, tmp_path):
    from lab.registry import founders
    g = founders("grokking")[0]
    src = tmp_path / "in.json"
    src.write_text(g.to_json())
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "spec": "grokking", "genes": {"learning_rate": "fast"}}')
    lab_app.dialogs.answers["open_files"] = [str(src)]
    lab_app.invoke("import_genomes")
    assert lab_app.registry.has_genome(g.id)
    lab_app.dialogs.answers["open_files"] = [str(bad)]
    lab_app.invoke("import_genomes")
    assert "bad.json" in lab_app.dialogs.errors()[-1][2]
    lab_app.dialogs.shown.clear()
    lab_app.hub.publish("genome_selected", genome_id=g.id)
    lab_app.dialogs.answers["save_file"] = str(tmp_path / "out.json")
    lab_app.invoke("export_genome")
    assert (tmp_path / "out.json").is_file()
    lab_app.dialogs.answers.clear()


def test_closing_while_a_job_runs_asks_then_cancels_and_waits(tmp_path):
    from lab.gui.app import App
    from lab.registry import Registry
    from tests.gui.conftest import RecordingDialogs

    try:
        root = tk.Tk()
    except tk.TclError as exc:  # pragma: no cover
        pytest.skip(f"no display: {exc}")
    dialogs = RecordingDialogs()
    app = App(root, Registry(tmp_path / "reg"), dialogs=dialogs, device="cpu")
    released = threading.Event()
    seen_cancel = []

    def long_job(job):
        while not job.cancel_token.is_set():
            released.wait(0.01)
        seen_cancel.append(True)
        return "checkpointed"

    job = app.submit(long_job, title="Long job")
    wait_until(root, lambda: job.state == "running", timeout=10)
    dialogs.answers["yes_no"] = False
    app.request_quit()
    root.update()
    assert root.winfo_exists() and job.active and not job.cancel_token.is_set()
    dialogs.answers["yes_no"] = True
    app.request_quit()
    assert [d[0] for d in dialogs.shown] == ["ask", "ask"]
    assert "Long job is running" in dialogs.shown[0][2] and "checkpoint" not in dialogs.shown[0][2]

    def destroyed():
        try:
            root.update()
            root.winfo_exists()  # raises once the window is destroyed
            return False
        except tk.TclError:
            return True
    deadline_ok = False
    for _ in range(500):
        if destroyed():
            deadline_ok = True
            break
        released.wait(0.01)
    assert deadline_ok, "the window closed once the job ended"
    assert seen_cancel and job.state == "cancelled"


def test_without_sv_ttk_the_window_falls_back_to_the_clam_look(monkeypatch):
    import sys
    from tkinter import ttk

    from lab.gui.theme import apply_theme
    monkeypatch.setitem(sys.modules, "sv_ttk", None)   # "import sv_ttk" now fails
    try:
        root = tk.Tk()
    except tk.TclError as exc:  # pragma: no cover
        pytest.skip(f"no display: {exc}")
    try:
        assert apply_theme(root, "dark") == "clam"
        assert ttk.Style(root).lookup("Error.TLabel", "foreground") == "#b00020", "the fallback is light"
        assert apply_theme(root, "light") == "clam"
    finally:
        root.destroy()


def test_ctrl_a_selects_a_whole_field_so_typing_replaces_it(lab_app):
    panel = lab_app.tabs["Evolution Lab"].settings_panel
    entry = panel.form.widgets["population"]
    old = panel.form.vars["population"].get()
    lab_app.notebook.select(0)
    panel.pages.select(0)   # the field on screen, as a user sees it
    lab_app.root.update()
    try:
        entry.focus_force()
        entry.icursor(1)
        lab_app.root.update()
        entry.event_generate("<Control-a>")
        assert entry.selection_present() and entry.selection_get() == entry.get()
        entry.event_generate("<KeyPress>", keysym="8")   # typing over a selection replaces it
        lab_app.root.update()
        assert entry.get() == "8"
    finally:
        panel.form.set_values({"population": old})


def test_a_long_status_message_is_cut_in_the_middle_to_fit_and_shown_whole_in_its_tooltip(lab_app):
    from tkinter import font as tkfont

    from lab.gui.widgets.fit_label import elide_to
    font = tkfont.nametofont("TkDefaultFont")
    assert elide_to("short", font, 500) == "short"
    cut = elide_to("grokking-20261205-171346-s1 " * 3, font, 120)
    assert font.measure(cut) <= 120 and cut.startswith("grok") and cut.rstrip().endswith("-s1") and "\u2026" in cut
    long = "exported 12 charts to /home/someone/papers/2026/speciation/figures/stress-chamber/grokking-default"
    lab_app.status_message.set(long)
    lab_app.root.update()
    label = lab_app.status_label
    shown = label.cget("text")
    assert shown != long and shown.startswith("exported") and shown.endswith("default")
    assert label._font().measure(shown) <= label.winfo_width(), "the message fits the room it has"
    assert label.tip.text == long, "the whole message is in the tooltip"
    job = lab_app.job_label
    assert job.winfo_rootx() >= label.winfo_rootx() + label.winfo_width(), "it never runs under the job's label"
    lab_app.status_message.set("")
