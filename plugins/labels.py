"""Chinese labels for stored-query parameters and yuan amounts shown as ¥-style figures."""
from datasette import hookimpl
from markupsafe import Markup

from ingest import zh


@hookimpl
def extra_template_vars(datasette):
    return {"param_labels": datasette.plugin_config("shequ").get("param_labels") or {}}


def format_yuan(value) -> str:
    """18940 → '¥18,940.00' (ingest.zh.yuan)."""
    return zh.yuan(value)


@hookimpl
def render_cell(value, column):
    if isinstance(column, str) and column.endswith("_yuan") and isinstance(value, (int, float)) \
            and not isinstance(value, bool):
        return Markup(f'<span class="yuan">{format_yuan(value)}</span>')
    return None
