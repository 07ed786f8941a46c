"""miniwdl container backend ``podman_local``: miniwdl's podman backend, minus the forced pull.

miniwdl's podman backend always runs ``podman pull`` before a task, which fails for an image that
exists only locally (built with ``docker/podman-build.sh``, never pushed). This backend skips the
pull when ``podman image exists`` finds the image, and otherwise pulls as usual. Enable it with
``[scheduler] container_backend = podman_local`` (see ``wdl/miniwdl/podman.cfg``).
"""

from __future__ import annotations

import logging
import subprocess
from contextlib import ExitStack

from WDL.runtime.backend.podman import PodmanContainer


class LocalImagePodmanContainer(PodmanContainer):
    def _pull_invocation(self, logger: logging.Logger, cleanup: ExitStack) -> tuple[str, list[str]]:
        image, invocation = super()._pull_invocation(logger, cleanup)
        exists = subprocess.run(
            [*self.cli_exe, "image", "exists", image],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if exists.returncode == 0:
            logger.info(f"podman image {image} exists locally; not pulling")
            return image, []
        return image, invocation
