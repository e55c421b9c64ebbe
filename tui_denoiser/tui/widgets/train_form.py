"""The training form: pre-filled from a recipe, validated inline by the core's own config checks.

Each field is checked on its own against the recipe's (valid) defaults, so the ConfigError message is
the reason for exactly that field; the first bad field's reason is shown under the form and the screen
keeps Start off until every field is valid.

bf16 is auto (the core decides it, with channels-last, when a run starts: core/precision.py) unless
the person forces it on or off; the line under it says which, and then what was chosen and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Select, Static

from tui_denoiser.core.config import DATASETS, DEVICES, ModelConfig, TrainConfig
from tui_denoiser.core.errors import ConfigError, plain_name
from tui_denoiser.core.recipes import RECIPES

# (field, label, kind); kind is int / float / a tuple of choices / bool
FIELDS: list[tuple[str, str, Any]] = [
    ("dataset", "dataset", DATASETS),
    ("epochs", "epochs", int),
    ("batch_size", "batch size", int),
    ("lr", "lr", float),
    ("noise_levels", "T (levels)", int),
    ("step_size", "lr step", int),
    ("gamma", "lr gamma", float),
    ("seed", "seed", int),
    ("device", "device", DEVICES),
    ("bf16", "bf16", "precision"),  # auto / on / off: see PRECISION
    # One row, "quality": on/off, samples a digit, steps between evaluations (blank: each epoch end).
    ("quality_eval", "quality", bool),
    ("eval_per_digit", "eval per digit", int),
    ("eval_every", "eval every", "int?"),
]
# Fields drawn on the row of another field (so the form stays short enough for 80x24), with a word before.
SAME_ROW: dict[str, tuple[tuple[str, str], ...]] = {"quality_eval": (("eval_per_digit", ""), ("eval_every", "per"))}
ON_ROW_OF = {name: head for head, rest in SAME_ROW.items() for name, _word in rest}
TOOLTIPS = {"eval_per_digit": "Samples of each digit in each quality evaluation",
            "eval_every": "Steps between quality evaluations (blank: at each epoch end)",
            "bf16": "auto: bf16 and channels-last are chosen for this machine when a run starts "
                    "(timed once, then cached); on/off forces bf16"}
PRECISION = {"auto": None, "on": True, "off": False}  # the bf16 choice -> what is asked of the core
PRECISION_HINT = {"auto": "auto: chosen when a run starts", "on": "forced on", "off": "forced off"}
PRECISION_PENDING, PRECISION_PROBING = "auto: choosing…", "auto: timing this machine…"  # while a run starts
FORCED_BY = "set on the form"  # how a forced option's line names the form (core/precision.py, forced_by)


def _parse(kind: Any, text: str) -> Any:
    text = text.strip()
    if kind == "int?":  # a whole number, or blank for "not set"
        return _parse(int, text) if text else None
    if kind is int:
        try:
            return int(text.replace("_", ""))
        except ValueError:
            raise ConfigError("must be a whole number") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError("must be a number") from None
    return text


class TrainForm(Vertical):
    """Holds the values; ``configs()`` gives the validated pair or None."""

    DEFAULT_CSS = """
    TrainForm { height: auto; }
    TrainForm > .form-row { height: 1; }
    TrainForm .form-label { width: 11; color: $text-muted; }
    TrainForm Input, TrainForm Select { width: 1fr; }
    TrainForm Checkbox { width: 5; }
    TrainForm Input.-bad { background: $error 40%; }
    TrainForm > #form-error { height: 2; color: $error; }
    TrainForm #field-eval_per_digit { width: 4; }
    TrainForm #field-eval_every { width: 1fr; }
    TrainForm .form-word { width: auto; color: $text-muted; padding: 0 1 0 1; }
    """

    @dataclass
    class Changed(Message):
        """The form became valid or invalid (or a valid value changed)."""

        form: "TrainForm"
        valid: bool

    def __init__(self, *, recipe: str = "original", overrides: dict[str, Any] | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.recipe_name = recipe
        self.overrides = dict(overrides or {})
        self.errors: dict[str, str] = {}
        self._filling = False
        self._precision_pending = False  # the line under bf16 says a run is choosing it now

    def _base(self) -> TrainConfig:
        base = RECIPES[self.recipe_name].train
        return base.replace(**self.overrides) if self.overrides else base

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Static("recipe", classes="form-label")
            yield Select([(name, name) for name in RECIPES], value=self.recipe_name, allow_blank=False,
                         compact=True, id="field-recipe")
        base = self._base()
        kinds = {name: kind for name, _label, kind in FIELDS}
        for name, label, kind in FIELDS:
            if name in ON_ROW_OF:
                continue
            with Horizontal(classes="form-row"):
                yield Static(label, classes="form-label")
                yield self._field(name, kind, getattr(base, name))
                for other, word in SAME_ROW.get(name, ()):
                    if word:
                        yield Static(word, classes="form-word")
                    yield self._field(other, kinds[other], getattr(base, other))
            if kind == "precision":
                yield Static(PRECISION_HINT[self._precision_mode()], id="precision-line")
        yield Static("", id="form-error")

    def _precision_mode(self) -> str:
        """auto, unless the screen's overrides fix bf16 (smoke runs, tests)."""
        if "bf16" in self.overrides:
            return "on" if self.overrides["bf16"] else "off"
        return "auto"

    def _field(self, name: str, kind: Any, value: Any):
        if kind == "precision":
            field = Select([(mode, mode) for mode in PRECISION], value=self._precision_mode(), allow_blank=False,
                           compact=True, id=f"field-{name}")
            field.tooltip = TOOLTIPS.get(name)
            return field
        if kind is bool:
            return Checkbox("", value=bool(value), compact=True, id=f"field-{name}")
        if isinstance(kind, tuple):
            return Select([(c, c) for c in kind], value=value, allow_blank=False, compact=True, id=f"field-{name}")
        placeholder = "epoch" if name == "eval_every" else ""  # blank: at each epoch end
        field = Input(self._show(value), compact=True, id=f"field-{name}", select_on_focus=False,
                      placeholder=placeholder)
        field.tooltip = TOOLTIPS.get(name)
        return field

    @staticmethod
    def _show(value: Any) -> str:
        if value is None:
            return ""
        return f"{value:g}" if isinstance(value, float) else str(value)

    def on_mount(self) -> None:
        self.validate()

    def fill(self, config: TrainConfig) -> None:
        """Show a config's values (a new recipe, or the run being resumed)."""
        self._filling = True
        try:
            for name, _label, kind in FIELDS:
                if kind == "precision":
                    continue  # the person's auto/on/off stays: a resume and a new recipe decide it again
                widget = self.query_one(f"#field-{name}")
                value = getattr(config, name)
                if isinstance(widget, Input):
                    widget.value = self._show(value)
                elif isinstance(widget, Checkbox):
                    widget.value = bool(value)
                elif isinstance(widget, Select):
                    widget.value = value
        finally:
            self._filling = False
        self.validate()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id == "field-recipe" and event.value in RECIPES and event.value != self.recipe_name:
            self.recipe_name = str(event.value)
            self.fill(self._base())
            return
        if event.select.id == "field-bf16":
            self.show_precision(PRECISION_HINT.get(str(event.value), ""))
        if not self._filling:
            self.validate()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if not self._filling:
            self.validate()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        if not self._filling:
            self.validate()

    def _raw(self, name: str) -> Any:
        return self.query_one(f"#field-{name}").value  # Input text, Select choice or Checkbox state

    def validate(self) -> bool:
        """Check every field; mark the bad ones and show the first reason."""
        base = self._base()
        values: dict[str, Any] = {}
        self.errors = {}
        for name, label, kind in FIELDS:
            raw = self._raw(name)
            if kind == "precision":
                if PRECISION.get(raw) is not None:  # auto: the recipe's value until the core decides
                    values[name] = PRECISION[raw]
                continue
            try:
                value = bool(raw) if kind is bool else raw if isinstance(kind, tuple) else _parse(kind, raw)
            except ConfigError as err:
                self.errors[name] = f"{label} {err}"
                continue
            try:
                base.replace(**{name: value})
                values[name] = value
            except ConfigError as err:
                self.errors[name] = err.worded(self.label_of)
        for name, _label, _kind in FIELDS:
            widget = self.query_one(f"#field-{name}")
            widget.set_class(name in self.errors, "-bad")
        error = self.query_one("#form-error", Static)
        if self.errors:
            first = next(iter(self.errors.values()))
            more = len(self.errors) - 1
            error.update(f"✗ {first}" + (f" (+{more} more)" if more else ""))
        else:
            error.update("")
        self._values = values
        valid = not self.errors
        self.post_message(self.Changed(self, valid))
        return valid

    @property
    def valid(self) -> bool:
        return not self.errors

    def configs(self) -> tuple[ModelConfig, TrainConfig] | None:
        """The recipe's model config and the form's train config, or None while a field is bad."""
        if not self.validate():
            return None
        return RECIPES[self.recipe_name].model, self._base().replace(**self._values)

    def precision_request(self) -> tuple[bool | None, bool | None]:
        """(bf16, channels_last) to force, None for each the core decides (``choose_for_training``)."""
        return PRECISION.get(self._raw("bf16")), self.overrides.get("channels_last")

    def show_precision(self, line: str, tooltip: str | None = None) -> None:
        """The line under bf16: auto/forced, then what a run chose and why (``tooltip``: the whole choice)."""
        hint = self.query_one("#precision-line", Static)
        hint.update(line)
        hint.tooltip = tooltip
        self._precision_pending = line in (PRECISION_PENDING, PRECISION_PROBING)

    def settle_precision(self) -> None:
        """A run that failed before its precision was chosen: back to auto/forced, not "choosing…"."""
        if self._precision_pending:
            self.show_precision(PRECISION_HINT.get(str(self._raw("bf16")), ""))

    @staticmethod
    def label_of(field: str) -> str:
        """How the form names a config field, to word core errors (``noise_levels`` -> ``T (levels)``)."""
        return next((label for name, label, _kind in FIELDS if name == field), plain_name(field))

    def mark_field(self, field: str | None, line: str) -> None:
        """Show a core error about ``field`` (a run that failed to start) on its form field."""
        if any(name == field for name, _label, _kind in FIELDS):
            self.query_one(f"#field-{field}").set_class(True, "-bad")
            self.query_one("#form-error", Static).update(f"✗ {line}")

    def set_enabled(self, enabled: bool) -> None:
        for widget in self.query("Input, Select, Checkbox"):
            widget.disabled = not enabled
