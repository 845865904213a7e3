"""Message ids that the code only translates through a variable, listed here so that
``pybabel extract`` finds them (see docs/i18n.md).

Templates translate stored values directly: ``_(user.role)``, ``_(actor.roles|first)``,
``_(p.status)``, ``_(p.source)``; the API translates a job's state. The extractor cannot see
those msgids, so each one is marked here with ``lazy_gettext``. Nothing needs to import this
module at run time; add a value here whenever a new role, plugin status/source or job state
can reach the screen.
"""

from flask_babel import lazy_gettext as _l

ROLES = (
    # TRANSLATORS: user role: enters reports and drafts (オペレーター)
    _l("operator"),
    # TRANSLATORS: user role: approves notices before they are issued (承認者)
    _l("approver"),
    # TRANSLATORS: user role: manages users and settings (管理者)
    _l("admin"),
)

PLUGIN_STATUSES = (
    # TRANSLATORS: plugin status on the admin plugins page: loaded and working
    _l("active"),
    # TRANSLATORS: plugin status (could not be loaded) and job state (gave up after retries)
    _l("failed"),
    # TRANSLATORS: plugin status: switched off by DISABLED_PLUGINS
    _l("blocked"),
)

PLUGIN_SOURCES = (
    # TRANSLATORS: where a plugin was loaded from: built into disaster-ai itself
    _l("core"),
    # TRANSLATORS: where a plugin was loaded from: an installed Python package
    _l("entry point"),
    # TRANSLATORS: where a plugin was loaded from: the plugins/ folder
    _l("plugins dir"),
    # TRANSLATORS: where a plugin was loaded from: not known
    _l("unknown"),
    # TRANSLATORS: where a plugin was loaded from: registered by the test suite
    _l("test"),
)

JOB_STATES = (
    # TRANSLATORS: job state: waiting for a worker
    _l("queued"),
    # TRANSLATORS: job state: being processed
    _l("running"),
    # TRANSLATORS: job state: finished successfully
    _l("succeeded"),
    _l("failed"),
)
