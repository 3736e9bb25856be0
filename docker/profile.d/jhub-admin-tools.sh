# The tools that docs/courses.md names, in every login shell (JupyterLab's terminals are login
# shells, and /etc/profile sets a PATH without the image's environments): `python` is the
# teaching kernel's, `jupyter` and `nbgrader` the servers' (/opt/jhub-admin/bin, made in the image).
case ":$PATH:" in
    *:/opt/jhub-admin/bin:*) ;;
    *) PATH="/opt/jhub-admin/bin:$PATH"; export PATH ;;
esac
