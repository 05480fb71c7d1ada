"""The rehearsal's safety, checked without running it: plain `pytest` (the README's test
command) skips it before anything reaches the engine, and under CI without the opt-in
it fails instead; the real base-image names point at stand-ins only inside
`rehearsal_kit.real_names`, and are untagged however that block ends; the stand-in
Dockerfiles declare what the real base images declare."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests import rehearsal_kit as kit
from tests.helpers import ROOT, TEST_LABEL

STANDINS = ROOT / "tests" / "rehearsal" / "standins"


# ------------------------------------------------------------------------- the gate
def _pytest_rehearsal(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess,
                                                                        list[str]]:
    """`pytest tests/test_rehearsal.py ARGS` in a child, as a user runs it: without
    OPKIT_TEST_REHEARSAL, CI or the wipe opt-in unless ENV sets them, and with a `docker`
    first on PATH that records each call and does nothing. Returns the run and the
    docker calls it made."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "docker-calls"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(calls))}\nexit 1\n')
    fake.chmod(0o755)
    # PYTEST_ADDOPTS too: .ci/run's newer lanes deselect the rehearsal with it
    child = {k: v for k, v in os.environ.items()
             if k not in (kit.OPT_IN, "CI", "OPKIT_TEST_ALLOW_WIPE", "PYTEST_ADDOPTS")}
    child.update(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", **env)
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/test_rehearsal.py",
                           "-p", "no:cacheprovider", "-q", "-rsf", *args],
                          cwd=ROOT, env=child, capture_output=True, text=True, timeout=300)
    return done, calls.read_text().splitlines() if calls.exists() else []


def test_plain_pytest_skips_the_rehearsal_and_calls_no_docker(tmp_path):
    """Without OPKIT_TEST_REHEARSAL=1, every rehearsal test skips with the reason, and
    not one docker command runs (so no real image name is touched). Before the opt-in
    the ELF check passed and the build test asked docker for compose and the stand-ins."""
    done, calls = _pytest_rehearsal(tmp_path, "-k", "elf_reader or seven_hex")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert re.search(r"^2 skipped, \d+ deselected in ", out, re.MULTILINE), out
    assert out.count(f"it runs only with {kit.OPT_IN}=1") == 2, out
    assert calls == []


def test_under_ci_the_rehearsal_without_the_opt_in_fails(tmp_path):
    """CI=true without OPKIT_TEST_REHEARSAL=1: the rehearsal fails through need() (a CI
    that skips it would pass without it), still before any docker command."""
    done, calls = _pytest_rehearsal(tmp_path, "-k", "elf_reader", CI="true")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "CI is set, so this must run" in out and f"{kit.OPT_IN}=1" in out, out
    assert calls == []


# ------------------------------------------------------------------- real names
@pytest.fixture
def standin(base_image):
    """A tiny image labelled as a rehearsal stand-in (and as ours), and a fresh name for
    it to stand in under (never a real base-image name on this shared engine)."""
    tag = f"opkit-test/standin:{uuid.uuid4().hex[:10]}"
    name = f"opkit-test/real-name-{uuid.uuid4().hex[:10]}:1"
    subprocess.run(["docker", "build", "-q", "--label", f"{kit.STANDIN_LABEL}=test",
                    "--label", f"{TEST_LABEL}=1", "-t", tag, "-"],
                   input=f"FROM {base_image}\n", text=True, capture_output=True, check=True,
                   env={**os.environ, "DOCKER_BUILDKIT": "0"})
    yield tag, name
    subprocess.run(["docker", "image", "rm", "-f", name, tag], capture_output=True)


def test_real_names_exist_only_inside_the_block_even_on_ctrl_c(standin):
    """Ctrl-C (KeyboardInterrupt) inside the block: the name is untagged on the way out;
    the stand-in itself stays."""
    tag, name = standin
    with pytest.raises(KeyboardInterrupt):
        with kit.real_names({name: tag}):
            assert kit.image_labels(name)[kit.STANDIN_LABEL] == "test"
            raise KeyboardInterrupt
    assert kit.image_labels(name) is None
    assert kit.image_labels(tag) is not None


def test_real_names_are_untagged_when_the_run_is_terminated(standin):
    """SIGTERM (a CI job cancelled, `kill`) while a build holds the names: the child
    exits and the name is gone. SIGTERM's default action would have left it."""
    tag, name = standin
    script = ("import sys, time\n"
              f"sys.path.insert(0, {str(ROOT)!r})\n"
              "from tests import rehearsal_kit as kit\n"
              f"with kit.real_names({{{name!r}: {tag!r}}}):\n"
              "    print('tagged', flush=True)\n"
              "    time.sleep(120)\n")
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == "tagged", child.stderr.read()
        assert kit.image_labels(name) is not None
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    finally:
        child.kill()
        child.wait()
    assert child.returncode != 0
    assert kit.image_labels(name) is None


def test_a_name_held_by_another_image_is_never_taken(standin, base_image):
    """The name belongs to an image that is no stand-in (here the session's base image):
    the block does not start (skip, or fail under CI) and that image keeps its name."""
    tag, _ = standin
    before = json.loads(subprocess.run(["docker", "image", "inspect", base_image],
                                       capture_output=True, text=True).stdout)[0]["Id"]
    with pytest.raises((pytest.skip.Exception, pytest.fail.Exception)) as refused:
        with kit.real_names({base_image: tag}):
            raise AssertionError("the block ran")
    assert "is no rehearsal stand-in" in str(refused.value)
    after = json.loads(subprocess.run(["docker", "image", "inspect", base_image],
                                      capture_output=True, text=True).stdout)[0]["Id"]
    assert after == before


# --------------------------------------------------------- what the stand-ins declare
def _final_stage(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile's last stage."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stage: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stage = []
        stage.append((word.upper(), rest.strip()))
    return stage


def _declares(path: Path) -> dict:
    """What a stand-in Dockerfile's last stage declares, in the form of kit.REAL_BASES
    (its base is the mmdebstrap import, which declares only a label and CMD bash)."""
    found: dict = {"Volumes": [], "WorkingDir": "", "User": "", "Entrypoint": None,
                   "Cmd": ["/bin/bash"], "ExposedPorts": [], "Env": {}}
    for word, rest in _final_stage(path):
        if word == "VOLUME":
            found["Volumes"] += json.loads(rest) if rest.startswith("[") else rest.split()
        elif word in ("WORKDIR", "USER"):
            found["WorkingDir" if word == "WORKDIR" else "User"] = rest
        elif word in ("ENTRYPOINT", "CMD"):
            found["Entrypoint" if word == "ENTRYPOINT" else "Cmd"] = json.loads(rest)
            if word == "ENTRYPOINT":
                found["Cmd"] = None  # an ENTRYPOINT resets the base's CMD
        elif word == "EXPOSE":
            found["ExposedPorts"] += [p if "/" in p else f"{p}/tcp" for p in rest.split()]
        elif word == "ENV":
            found["Env"].update(pair.split("=", 1) for pair in shlex.split(rest))
    found["Volumes"].sort()
    found["ExposedPorts"].sort()
    return found


@pytest.mark.parametrize("base, dockerfile", [
    ("nethermind", "Dockerfile.nethermind"),
    ("golang", "Dockerfile.golang"),
    ("alpine", "Dockerfile.alpine"),
    ("op-reth", "Dockerfile.op-reth"),
])
def test_standin_dockerfiles_declare_what_the_real_bases_declare(base, dockerfile):
    """Each stand-in Dockerfile declares the real base's volumes, user, workdir, entry
    point, command, ports and environment as kit.REAL_BASES records them from upstream:
    NethermindEth/nethermind's Dockerfile (three VOLUMEs under /nethermind, WORKDIR
    /nethermind, ENTRYPOINT ./nethermind, no USER; the aspnet base's APP_UID 1654),
    docker-library/golang 1.26/alpine3.23/Dockerfile @0a8424b3 and alpinelinux/docker-alpine
    x86_64/Dockerfile @00d34073, and optimism rust/op-reth/DockerfileOp @0ddd0724 (WORKDIR
    /app, ENTRYPOINT /usr/local/bin/op-reth, seven EXPOSE ports, no USER, VOLUME or CMD).
    The old Nethermind stand-in declared no VOLUME, which is why no test saw doctor's
    probe leave three anonymous volumes behind."""
    declared = _declares(STANDINS / dockerfile)
    for key, value in kit.REAL_BASES[base].items():
        if key == "Env":
            assert {k: declared["Env"].get(k) for k in value} == value, key
        else:
            assert declared[key] == value, (key, declared[key])
