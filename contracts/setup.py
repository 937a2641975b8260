"""Build hook of the uncops-contracts wheel (the metadata is in pyproject.toml).

The generated JSON Schemas and AsyncAPI document live where the architecture fixes them, contracts/schemas/
and contracts/asyncapi.yaml, beside the package rather than in it. The wheel carries them inside the
package, as uncops_contracts/schemas/<domain>/<name>.v<N>.json and uncops_contracts/asyncapi.yaml, so a
partner who installs it reads them with importlib.resources. An editable install (the repository's own
virtual environment) reads the checked-in files directly and gets no copy.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithDocuments(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        package = Path(self.build_lib) / "uncops_contracts"
        shutil.copytree(HERE / "schemas", package / "schemas", dirs_exist_ok=True)
        shutil.copy2(HERE / "asyncapi.yaml", package / "asyncapi.yaml")


setup(cmdclass={"build_py": BuildPyWithDocuments})
