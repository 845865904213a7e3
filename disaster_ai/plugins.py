"""The plugin manager: one per app, built by make_plugin_manager(config).

Loading order: hookspecs → core plugins (DEFAULT_PLUGINS) → entry points of the group
``disaster_ai`` → *.py files and packages in PLUGINS_DIR → blocklist → check_pending().
A plugin that fails to import or whose dai_startup raises is logged, unregistered and kept in
``pm.failed`` so the admin plugins page can show it; the app keeps running.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import logging
import sys
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

import pluggy

from disaster_ai import hookspecs

log = logging.getLogger(__name__)

DEFAULT_PLUGINS = (
    "disaster_ai.apps.providers",
    "disaster_ai.apps.situation",
    "disaster_ai.apps.notices",
    "disaster_ai.apps.transcription",
    "disaster_ai.apps.bulletins",
    "disaster_ai.apps.reports",
    "disaster_ai.apps.governance",
)


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str  # core | entry point | plugins dir
    hooks: list[str] = field(default_factory=list)
    status: str = "active"  # active | failed | blocked
    error: str = ""


class DisasterAIPluginManager(pluggy.PluginManager):
    """pluggy's manager plus where each plugin came from and which ones failed."""

    def __init__(self):
        super().__init__("disaster_ai")
        self.sources: dict[str, tuple[str, str]] = {}  # name → (source, version)
        self.failed: dict[str, PluginInfo] = {}

    def register_from(self, plugin, name: str, source: str, version: str = "") -> None:
        """Register ``plugin`` and let it add its own hook specifications (dai_add_hookspecs);
        a plugin whose specifications fail to load is unregistered and the error raised."""
        if self.has_plugin(name) or self.is_blocked(name):
            return
        self.register(plugin, name=name)
        self.sources[name] = (source, version)
        if getattr(plugin, "dai_add_hookspecs", None) is not None:
            others = [p for p in self.get_plugins() if p is not plugin]
            try:
                self.subset_hook_caller("dai_add_hookspecs", remove_plugins=others)(pm=self)
            except BaseException:
                self.unregister(name=name)
                self.sources.pop(name, None)
                raise

    def record_failure(self, name: str, source: str, exc: BaseException) -> None:
        log.error("plugin %s (%s) disabled: %s", name, source, exc, exc_info=exc)
        if self.has_plugin(name):
            self.unregister(name=name)
        version = self.sources.pop(name, (source, ""))[1]
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.failed[name] = PluginInfo(name, version, source, status="failed", error=error)

    def describe(self) -> list[PluginInfo]:
        """Every plugin the manager knows: active, failed and blocked, sorted by name."""
        infos = []
        for name, plugin in self.list_name_plugin():
            if plugin is None:
                continue
            source, version = self.sources.get(name, ("unknown", ""))
            hooks = sorted(caller.name for caller in self.get_hookcallers(plugin) or [])
            infos.append(PluginInfo(name, version, source, hooks))
        infos.extend(self.failed.values())
        for name in sorted(self._name2plugin):
            if self.is_blocked(name) and name not in self.failed:
                infos.append(PluginInfo(name, "", "blocked", status="blocked"))
        return sorted(infos, key=lambda info: info.name)


def make_plugin_manager(config) -> DisasterAIPluginManager:
    pm = DisasterAIPluginManager()
    pm.add_hookspecs(hookspecs)
    for name in config.get("DISABLED_PLUGINS") or []:
        pm.set_blocked(name)
    _load_core_plugins(pm)
    if config.get("LOAD_ENTRY_POINTS", True):
        _load_entry_points(pm)
    plugins_dir = config.get("PLUGINS_DIR")
    if plugins_dir:
        _load_plugins_dir(pm, Path(plugins_dir))
    _check_pending(pm)
    if config.get("TRACE_PLUGINS"):
        _enable_tracing(pm)
    return pm


def _check_pending(pm: DisasterAIPluginManager) -> None:
    """pluggy's check: a ``dai_`` implementation whose hook nobody declares stops the desk (a
    typo never silently does nothing). While a core app is blocked, its hooks are not declared:
    an implementation of one of them is then only logged (it is never called)."""
    blocked_apps = [name for name in DEFAULT_PLUGINS if pm.is_blocked(name)]
    if blocked_apps:
        for hook_name, caller in vars(pm.hook).items():
            if hook_name.startswith("_") or caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if not impl.optionalhook:
                    log.warning(
                        "plugin %s implements %s, a hook no loaded plugin declares (disabled: "
                        "%s); it is not called",
                        impl.plugin_name,
                        hook_name,
                        ", ".join(blocked_apps),
                    )
        return
    pm.check_pending()


def _load_core_plugins(pm: DisasterAIPluginManager) -> None:
    from disaster_ai import __version__

    for module_name in DEFAULT_PLUGINS:
        if pm.is_blocked(module_name):
            continue
        module = importlib.import_module(module_name)
        pm.register_from(module, module_name, "core", __version__)


def _load_entry_points(pm: DisasterAIPluginManager) -> None:
    for entry_point in importlib.metadata.entry_points(group="disaster_ai"):
        name = entry_point.name
        version = entry_point.dist.version if entry_point.dist else ""
        if pm.is_blocked(name):
            continue
        try:
            plugin = entry_point.load()
            pm.register_from(plugin, name, "entry point", version)
        except pluggy.PluginValidationError:
            raise  # a misspelled hook or argument stops the desk (see check_pending)
        except Exception as exc:  # a broken plugin must not take the desk down
            pm.record_failure(name, "entry point", exc)


def _plugin_candidates(folder: Path):
    """Yield (name, path to import) for every plugin in the folder.

    A ``*.py`` file, a package (a folder with ``__init__.py``) and an installable plugin project
    (a folder with pyproject.toml holding a same-named package) are all accepted."""
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if path.suffix == ".py":
            yield path.stem, path
        elif (path / "__init__.py").is_file():
            yield path.name, path / "__init__.py"
        elif (path / "pyproject.toml").is_file() and (path / path.name / "__init__.py").is_file():
            yield path.name, path / path.name / "__init__.py"


def _load_plugins_dir(pm: DisasterAIPluginManager, folder: Path) -> None:
    if not folder.is_dir():
        return
    for name, path in _plugin_candidates(folder):
        if pm.is_blocked(name) or pm.has_plugin(name):
            continue  # already loaded, e.g. installed with an entry point of the same name
        try:
            module = _import_file(name, path)
            pm.register_from(module, name, "plugins dir", getattr(module, "__version__", ""))
        except pluggy.PluginValidationError:
            raise
        except Exception as exc:
            pm.record_failure(name, "plugins dir", exc)


def _import_file(name: str, path: Path):
    # Keyed by path too: two folders may each hold a plugin of the same name.
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    module_name = f"disaster_ai_plugins.{name}_{digest}"
    if "disaster_ai_plugins" not in sys.modules:
        # the parent package of folder plugins, so that a package's own relative imports
        # (``from . import models``) work: Python imports the top-level name for them
        parent = types.ModuleType("disaster_ai_plugins", "Plugins loaded from PLUGINS_DIR.")
        parent.__path__ = []
        sys.modules["disaster_ai_plugins"] = parent
    if module_name in sys.modules:
        return sys.modules[module_name]
    is_package = path.name == "__init__.py"
    spec = importlib.util.spec_from_file_location(
        module_name, path, submodule_search_locations=[str(path.parent)] if is_package else None
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def run_startup_hooks(pm: DisasterAIPluginManager, app) -> None:
    """Call dai_startup one plugin at a time so that one failure disables only that plugin.
    Each implementation gets ``app`` and its own :class:`disaster_ai.desk.Desk`."""
    from disaster_ai.desk import Desk

    for outcome in call_each(
        pm,
        "dai_startup",
        app=app,
        per_plugin=lambda name: {"desk": Desk(app, name)},
        consequence="the plugin is disabled",
    ):
        if outcome.error is not None:
            source = pm.sources.get(outcome.plugin, ("unknown", ""))[0]
            pm.record_failure(outcome.plugin, source, outcome.error)


# --- calling hooks: the one helper ----------------------------------------------------------


@dataclass(frozen=True)
class HookOutcome:
    """What one implementation of a hook gave: its value, or the exception it raised."""

    plugin: str
    value: object = None
    error: BaseException | None = None


def impls_in_call_order(pm, hook_name: str) -> list:
    """The non-wrapper implementations of ``hook_name`` in the order pluggy calls them:
    ``tryfirst`` ones, then the others from the most recently registered to the oldest, then
    ``trylast`` ones. An unknown hook (e.g. an app's hook while that app is blocked) has none."""
    caller = getattr(pm.hook, hook_name, None)
    if caller is None:
        return []
    impls = caller.get_hookimpls()  # pluggy keeps them in reverse call order
    return [impl for impl in reversed(impls) if not (impl.hookwrapper or impl.wrapper)]


def call_each(
    pm,
    hook_name: str,
    /,
    *,
    per_plugin=None,
    consequence: str = "skipped",
    first_answer: bool = False,
    **kwargs,
) -> list[HookOutcome]:
    """Call every implementation of ``hook_name`` one at a time, in pluggy's order (see
    :func:`impls_in_call_order`), and return one :class:`HookOutcome` per implementation.

    An exception is caught, logged (``plugin NAME failed in HOOK; <consequence>``) and returned
    in the outcome, so one broken plugin never hides the others; the caller decides what a
    failure means (skip it, block a notice, disable the plugin) and says so in ``consequence``. ``per_plugin(plugin_name)`` may return
    extra arguments for that plugin only (its own ``desk``). Wrappers (``wrapper=True``) wrap
    each single call, and the tracing switch sees each call. A firstresult hook's value is the
    implementation's own answer; a collector's is what the implementation returned (None when
    it returned None). ``first_answer=True`` stops after the first implementation that answers
    (a value that is not None), so the later ones do no work: a provider that skips failures."""
    impls = impls_in_call_order(pm, hook_name)
    if not impls:
        return []
    firstresult = bool(getattr(pm.hook, hook_name).spec.opts.get("firstresult"))
    plain_plugins = [impl.plugin for impl in impls]
    outcomes = []
    for impl in impls:
        others = [plugin for plugin in plain_plugins if plugin is not impl.plugin]
        caller = pm.subset_hook_caller(hook_name, remove_plugins=others)
        arguments = {**kwargs, **(per_plugin(impl.plugin_name) if per_plugin else {})}
        try:
            result = caller(**arguments)
        except Exception as exc:
            log.exception("plugin %s failed in %s; %s", impl.plugin_name, hook_name, consequence)
            outcomes.append(HookOutcome(impl.plugin_name, None, exc))
            continue
        value = result if firstresult else (result[0] if result else None)
        outcomes.append(HookOutcome(impl.plugin_name, value))
        if first_answer and value is not None:
            break
    return outcomes


def _flatten(value) -> list:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [item for item in value if item is not None]
    return [value]


def collect_by_plugin(pm, hook_name: str, **kwargs) -> list[tuple[str, object]]:
    """Like safe_collect, but keeps which plugin returned each item."""
    return [
        (outcome.plugin, item)
        for outcome in call_each(pm, hook_name, **kwargs)
        if outcome.error is None
        for item in _flatten(outcome.value)
    ]


def safe_collect(pm, hook_name: str, **kwargs) -> list:
    """Call a collector hook through :func:`call_each` and flatten the lists, in pluggy's
    order; a failing optional implementation is logged and skipped so the desk stays usable."""
    return [item for _plugin, item in collect_by_plugin(pm, hook_name, **kwargs)]


def _enable_tracing(pm: DisasterAIPluginManager) -> None:
    def before(hook_name, hook_impls, kwargs):
        print(
            f"[plugins] {hook_name} → {[impl.plugin_name for impl in hook_impls]}", file=sys.stderr
        )

    def after(outcome, hook_name, hook_impls, kwargs):
        pass

    pm.add_hookcall_monitoring(before, after)
