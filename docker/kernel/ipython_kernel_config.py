# The teaching kernel's IPython configuration (/opt/kernel/etc/ipython/): read by every kernel of
# "Python 3 (lycée)", before the student's own profile.
c = get_config()  # noqa: F821

# Numbers as a French reader writes them where a library asks the locale (matplotlib's
# axes.formatter.use_locale, locale.format_string); LANG comes from the user's server.
c.InteractiveShellApp.exec_lines = [
    "import locale as _jhub_locale\n"
    "try:\n"
    "    _jhub_locale.setlocale(_jhub_locale.LC_NUMERIC, '')\n"
    "except _jhub_locale.Error:\n"
    "    pass\n"
    "del _jhub_locale",
]
# Plots inline, at a size that reads on a classroom screen.
c.InlineBackend.rc = {"figure.figsize": (7.0, 4.5), "figure.dpi": 100}
# jupysql: whole results up to 100 rows (its default of 10 surprises a class).
c.SqlMagic.displaylimit = 100
# Why memory ran out, or why the previous kernel stopped, in the student's language
# (extensions/jhub_kernel_guard.py, on the kernel's path through kernel.json); folium's maps with
# their JavaScript and CSS from the hub, not from CDNs (extensions/jhub_offline_maps.py).
c.InteractiveShellApp.extensions = ["jhub_kernel_guard", "jhub_offline_maps"]
