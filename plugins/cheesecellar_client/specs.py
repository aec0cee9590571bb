"""Release specifications on the command line: ``NAME``, ``NAME==VERSION``, ``NAME>=1.0``."""

from __future__ import annotations

import dataclasses

from cheesecellar_client.http import ClientError

SPEC_HELP = "expected NAME or NAME==VERSION (any PEP 440 specifier works, e.g. NAME>=1.0)"


@dataclasses.dataclass(frozen=True)
class ReleaseSpec:
    """A project name and the versions a command acts on."""

    name: str
    specifier: str  # "" means every version

    @property
    def project(self) -> str:
        """The normalised project name, as in URLs."""
        from packaging.utils import canonicalize_name

        return canonicalize_name(self.name)

    @property
    def exact_version(self) -> str | None:
        """The version of a ``NAME==VERSION`` spec, else None."""
        if self.specifier.startswith("==") and "," not in self.specifier:
            version = self.specifier[2:].strip()
            return version if "*" not in version else None
        return None

    def matches(self, version: str) -> bool:
        """Whether ``version`` is one of the spec's versions; exact pins match as written."""
        if not self.specifier:
            return True
        if self.exact_version is not None:
            # Versions are stored as uploaded: 1.0 and 1.0.0 are different releases.
            return version == self.exact_version
        from packaging.specifiers import SpecifierSet

        return SpecifierSet(self.specifier).contains(version, prereleases=True)


def parse_spec(text: str) -> ReleaseSpec:
    """Parse a release spec.

    :raises ClientError: ``text`` is not a requirement without extras, markers or URL.
    """
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement

    try:
        requirement = Requirement(text.strip())
    except InvalidRequirement as exc:
        raise ClientError(f"malformed spec {text!r}: {SPEC_HELP}") from exc
    if requirement.url or requirement.extras or requirement.marker:
        raise ClientError(f"malformed spec {text!r}: {SPEC_HELP}")
    return ReleaseSpec(requirement.name, str(requirement.specifier))


def parse_pin(text: str) -> tuple[str, str]:
    """Parse ``NAME==VERSION`` into name and version (push and yank need one version)."""
    spec = parse_spec(text)
    if spec.exact_version is None:
        raise ClientError(f"malformed spec {text!r}: expected NAME==VERSION")
    return spec.name, spec.exact_version
