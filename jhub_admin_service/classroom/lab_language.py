"""JupyterLab in the browser's language until its user picks one: a Jupyter Server extension of
every server.

The image's ``overrides.json`` makes French JupyterLab's default language (``fr_FR``), for everyone.
A pupil whose browser asks for English should get English, as the hub's pages do (French when
the browser names neither). JupyterLab's language is decided in two places, and both follow the
browser while the user has not chosen a language of their own (*Settings → Language*, which
JupyterLab saves in the user's settings and which always wins):

- the page's: the translation setting's default, in the schema the settings API sends; an output
  transform changes it in the answer, for this request's browser;
- the server's: jupyterlab_server translates the settings' schemas (the menus' labels) into the
  locale of ``SchemaHandler.get_current_locale``: the user's setting, else the server's ``LANG``.
  That method is wrapped to take the browser's language before ``LANG``; jupyterlab_server has no
  setting for it.
"""
import importlib.util
import json
import re

from tornado.web import OutputTransform

SERVER_EXTENSION = __name__
TRANSLATION_PLUGIN = "@jupyterlab/translation-extension:plugin"
#: JupyterLab's locale for each language the product speaks; French when the browser names neither.
LOCALES = {"fr": "fr_FR", "en": "en"}
DEFAULT_LANGUAGE = "fr"


def browser_language(accept_language: str) -> str:
    """The first of the product's languages that the browser names, by its q-values."""
    ranked = []
    for order, part in enumerate(accept_language.split(",")):
        code, _, params = part.strip().partition(";")
        weight = re.search(r"q\s*=\s*([^;]*)", params)
        try:
            q = float(weight.group(1)) if weight else 1.0
        except ValueError:
            q = 0.0  # as tornado reads it: a weight that is not a number excludes the language
        ranked.append((-q, order, code.strip().lower()[:2]))
    return next((lang for q, _, lang in sorted(ranked) if q < 0 and lang in LOCALES), DEFAULT_LANGUAGE)


def language_pack_installed(language: str) -> bool:
    """English is JupyterLab's own; another language needs its pack (jupyterlab-language-pack-fr-FR)."""
    return language == "en" or importlib.util.find_spec(f"jupyterlab_language_pack_{LOCALES[language]}") is not None


def with_browser_default(plugin: dict, language: str) -> bool:
    """Give the translation plugin's setting the browser's language as its default, unless the
    user chose one or the language's pack is missing. Returns whether the plugin was changed."""
    if not isinstance(plugin, dict) or plugin.get("id") != TRANSLATION_PLUGIN or not language_pack_installed(language):
        return False
    if "locale" in (plugin.get("settings") or {}):
        return False
    locale = (plugin.get("schema") or {}).get("properties", {}).get("locale")
    if not isinstance(locale, dict):
        return False
    locale["default"] = LOCALES[language]
    return True


def settings_answer(body: bytes, language: str) -> bytes:
    """The settings API's answer (one plugin, or the list of all), the translation plugin's
    default language set; the body unchanged when it holds no such plugin."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    plugins = data.get("settings") if isinstance(data.get("settings"), list) else [data]
    changed = [with_browser_default(p, language) for p in plugins]
    return json.dumps(data).encode() if any(changed) else body


def settings_transform(settings_path: str) -> type:
    class BrowserLanguage(OutputTransform):
        def __init__(self, request):
            super().__init__(request)
            self.applies = request.method == "GET" and (
                request.path == settings_path or request.path.startswith(settings_path + "/"))
            self.language = browser_language(request.headers.get("Accept-Language", ""))

        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            if self.applies and finishing and status_code == 200:
                chunk = settings_answer(chunk, self.language)
                if "Content-Length" in headers:
                    headers["Content-Length"] = str(len(chunk))
            return status_code, headers, chunk

    return BrowserLanguage


def browser_first(get_current_locale):
    """SchemaHandler.get_current_locale, with the request's browser language before the server's."""

    def current_locale(handler) -> str:
        from jupyterlab_server.settings_utils import get_settings

        try:
            own, _ = get_settings(handler.app_settings_dir, handler.schemas_dir, handler.settings_dir,
                                  schema_name=TRANSLATION_PLUGIN, overrides=handler.overrides,
                                  labextensions_path=handler.labextensions_path)
            chosen = own.get("settings", {}).get("locale")
        except Exception:  # what jupyterlab_server's own method does then: its default
            chosen = None
        language = browser_language(handler.request.headers.get("Accept-Language", ""))
        if chosen or not language_pack_installed(language):
            return get_current_locale(handler)
        return LOCALES[language]

    current_locale.jhub_admin_browser_first = True
    return current_locale


def _jupyter_server_extension_points():
    return [{"module": SERVER_EXTENSION}]


def _load_jupyter_server_extension(serverapp):
    from jupyterlab_server.settings_utils import SchemaHandler

    base_url = serverapp.web_app.settings.get("base_url", "/")
    serverapp.web_app.add_transform(settings_transform(base_url.rstrip("/") + "/lab/api/settings"))
    if not getattr(SchemaHandler.get_current_locale, "jhub_admin_browser_first", False):
        SchemaHandler.get_current_locale = browser_first(SchemaHandler.get_current_locale)
    serverapp.log.info("jhub-admin: JupyterLab speaks the browser's language until its user picks one")


load_jupyter_server_extension = _load_jupyter_server_extension
