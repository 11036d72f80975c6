"""The Device field offers only the devices the chosen arena supports (lab.arenas.device_choices), in
the Stress Chamber, the Evolution Lab's settings and the direct-run window; a device the new arena
lacks falls back to its first choice."""
from __future__ import annotations

from lab.arenas import device_choices
from lab.gui.direct_run import open_direct_run


def offered(form) -> tuple[str, ...]:
    return tuple(form.widgets["device"].cget("values"))


def test_the_stress_chamber_device_follows_the_arena(lab_app):
    stress = lab_app.tabs["Stress Chamber"]
    start = stress.arena.name
    try:
        assert stress.set_arena("grokking")
        assert offered(stress.form) == ("auto", "cpu", "cuda") == device_choices("grokking")
        stress.form.set("device", "cuda")
        stress.arena_name.set("neat")
        stress.arena_box.event_generate("<<ComboboxSelected>>")   # as a pick in the list does
        lab_app.root.update()
        assert stress.arena.name == "neat"
        assert offered(stress.form) == ("cpu",)
        assert stress.form.values()["device"] == "cpu", "cuda is not offered for neat: the first choice"
        stress.form.set("device", "cuda")
        assert stress.form.check("device"), "a device neat lacks is named as a problem, not accepted"
        assert stress.set_arena("grokking")
        assert offered(stress.form) == ("auto", "cpu", "cuda")
    finally:
        stress.set_arena(start)


def test_the_evolution_settings_device_follows_the_arena(lab_app):
    panel = lab_app.tabs["Evolution Lab"].settings_panel
    start = panel.arena.get()
    try:
        for name, expected in (("neat", ("cpu",)), ("grokking", ("auto", "cpu", "cuda")),
                               ("genreg", device_choices("genreg"))):
            panel.arena.set(name)
            panel.arena_box.event_generate("<<ComboboxSelected>>")
            lab_app.root.update()
            assert offered(panel.form) == expected, name
            assert panel.form.vars["device"].get() in expected
        panel.form.set("device", "cuda")
        panel.arena.set("neat")
        panel.arena_box.event_generate("<<ComboboxSelected>>")
        lab_app.root.update()
        assert panel.form.values()["device"] == "cpu"
    finally:
        panel.arena.set(start)
        panel.arena_box.event_generate("<<ComboboxSelected>>")
        lab_app.root.update()


def test_the_direct_run_window_offers_its_arenas_devices(lab_app):
    window = open_direct_run(lab_app, "neat", None, None)
    try:
        assert offered(window.run_form) == ("cpu",)
        assert window.run_form.values()["device"] == "cpu"
    finally:
        window.close()
    window = open_direct_run(lab_app, "m2n2", None, None)
    try:
        assert offered(window.run_form) == device_choices("m2n2") == ("auto", "cpu", "cuda")
    finally:
        window.close()
        lab_app.dialogs.shown.clear()
