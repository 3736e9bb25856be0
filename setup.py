"""jhub-admin: run JupyterHub and nbgrader for a school on one Docker server."""
from setuptools import find_packages, setup

setup(
    name="jhub-admin",
    version="0.1.0",
    description="Admin service, CLI and Docker sidecar for a school's JupyterHub + nbgrader",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.9",
    packages=find_packages(include=["jhub_admin_service", "jhub_admin_service.*"]),
    include_package_data=True,
    package_data={
        "jhub_admin_service": [
            "service/templates/*.html",
            "hubpages/templates/*.html",
            "service/static/*",
            "service/translations/*/LC_MESSAGES/*.mo",
            "service/translations/*/LC_MESSAGES/*.po",
            "courses/assets/*",
            "courses/grading/static/*",
            "courses/feedback_view/static/*",
            "courses/nbgrader_words/static/*",
            "courses/nbgrader_words/catalogue/*",
            "courses/feedback/templates/*/*",
            "classroom/examples/*.ipynb",
            "classroom/pdf_template/*/*",
            "classroom/examples/nbgrader/*/*.ipynb",
        ],
    },
    install_requires=[
        "babel>=2.12",
        "jupyterhub>=6.1,<6.2",
        "oauthenticator>=17.3,<18",
        "python-cas>=1.6,<2",
        "openpyxl>=3.1",
        "packaging",
        "setproctitle>=1.3",
        "tornado>=6.4",
        "traitlets>=5.9",
    ],
    extras_require={
        "nbgrader": ["nbgrader>=0.9,<0.10", "notebook>=7,<8", "jupyterlab>=4,<5"],
        "sidecar": ["docker>=7"],
        "test": [
            "pytest>=8",
            "pytest-asyncio>=0.23",
            "pytest-timeout",
            "playwright",
            "docker>=7",
            "nbgrader>=0.9,<0.10",
            "notebook>=7,<8",
            "jupyterlab>=4,<5",
            "jupyterhub-idle-culler",
            "pypdf",
            "django-cas-server>=3,<4",
            # the S3-compatible store of the restore points' tests (tests/sidecar/test_points_places.py)
            "moto[server]>=5,<6",
        ],
    },
    entry_points={
        "console_scripts": [
            "jhub-admin = jhub_admin_service.cli.main:main",
            "jhub-admin-service = jhub_admin_service.service.app:main",
            "jhub-admin-sidecar = jhub_admin_service.sidecar.app:main",
            # In a restore point helper: restic's "rclone" program, the tunnel to the sidecar's.
            "jhub-admin-points-tunnel = jhub_admin_service.sidecar.points.tunnel:main",
        ],
        # The teaching kernel's spec names it (docker/kernel/kernelspec.py).
        "jupyter_client.kernel_provisioners": [
            "jhub-forked-kernel = jhub_admin_service.classroom.kernel_provisioner:ForkedKernelProvisioner",
        ],
    },
)
