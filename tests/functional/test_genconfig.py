"""``cellar gen-config``: options read as the server reads them, files written safely."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import requests
from distfiles import upload
from distfiles import wheel
from mirrorkit import wait_for

from cheesecellar.cli import main as cellar_main

ALL_FILES = {
    "nginx-cellar.conf",
    "cellar.service",
    "docker/docker-compose.yml",
    "docker/cellar.dockerfile",
    "docker/.dockerignore",
    "docker/.gitignore",
    "docker/wheels/README.txt",
    "docker/entrypoint.sh",
    "docker/replica_entrypoint.sh",
    "docker/healthcheck.py",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No CELLAR_* settings of the machine; the current directory is the test's own."""
    for name in list(os.environ):
        if name.startswith("CELLAR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def gen_config(capsys, *args: str) -> tuple[int, str, str]:
    code = cellar_main(["gen-config", *args])
    out, err = capsys.readouterr()
    return code, out, err


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def refused(capsys, *args: str) -> str:
    """Run gen-config, expect exit 1 with one error line and nothing written; return it."""
    code, out, err = gen_config(capsys, *args)
    assert code == 1, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cellar gen-config: error: "), err
    assert "Traceback" not in err
    assert not Path("gen-config").exists()
    return lines[0]


def test_writes_every_file_into_gen_config_and_says_what_next(capsys, tmp_path):
    code, out, err = gen_config(capsys, "--serverdir", "srv", "--host", "0.0.0.0")
    assert code == 0, err
    assert files_under(tmp_path / "gen-config") == ALL_FILES
    for name in ALL_FILES:
        assert f"wrote gen-config/{name}\n" in out
    assert "nginx -t && systemctl reload nginx" in out
    assert "systemctl daemon-reload && systemctl enable --now cellar" in out
    assert "docker compose up -d --build" in out
    serverdir = tmp_path / "srv"
    assert f"--serverdir {serverdir}" in out  # relative paths are made absolute
    unit = (tmp_path / "gen-config" / "cellar.service").read_text()
    assert f"--serverdir {serverdir} \\\n" in unit
    mode = (tmp_path / "gen-config" / "docker" / "entrypoint.sh").stat().st_mode
    assert stat.S_IMODE(mode) == 0o755
    assert stat.S_IMODE((tmp_path / "gen-config" / "cellar.service").stat().st_mode) == 0o644


def test_only_writes_the_kinds_asked_for(capsys, tmp_path):
    code, _out, err = gen_config(
        capsys, "--serverdir", "srv", "--only", "nginx", "--only", "systemd", "--output", "out"
    )
    assert code == 0, err
    assert files_under(tmp_path / "out") == {"nginx-cellar.conf", "cellar.service"}


def test_existing_files_are_kept_unless_forced(capsys, tmp_path):
    out_dir = tmp_path / "out"
    (out_dir / "docker").mkdir(parents=True)
    (out_dir / "cellar.service").write_text("mine\n")
    (out_dir / "notes.txt").write_text("unrelated\n")
    code, _out, err = gen_config(capsys, "--serverdir", "srv", "--output", "out")
    assert code == 1
    assert "out/cellar.service already exists" in err
    assert "--force" in err
    assert files_under(out_dir) == {"cellar.service", "notes.txt"}  # nothing written
    assert (out_dir / "cellar.service").read_text() == "mine\n"
    code, _out, err = gen_config(capsys, "--serverdir", "srv", "--output", "out", "--force")
    assert code == 0, err
    assert (out_dir / "cellar.service").read_text().startswith("# systemd unit")
    assert (out_dir / "notes.txt").read_text() == "unrelated\n"
    assert not [p for p in out_dir.rglob("*.partial")]


def test_an_output_that_is_a_file_is_refused(capsys, tmp_path):
    (tmp_path / "taken").write_text("x")
    code, _out, err = gen_config(capsys, "--serverdir", "srv", "--output", "taken")
    assert code == 1
    assert "is not a directory" in err


def test_options_come_from_a_config_file_and_the_environment_too(capsys, tmp_path, monkeypatch):
    (tmp_path / "cellar.toml").write_text(
        '[cellar]\nserverdir = "/srv/from-file"\nport = 4141\nthreads = 7\n'
    )
    monkeypatch.setenv("CELLAR_MIRROR_CACHE_EXPIRY", "30")
    code, _out, err = gen_config(capsys, "-c", "cellar.toml", "--port", "5151")
    assert code == 0, err
    unit = (tmp_path / "gen-config" / "cellar.service").read_text()
    assert "--serverdir /srv/from-file \\\n" in unit
    assert "--port 5151 \\\n" in unit  # the command line wins over the file
    assert "--threads 7 \\\n" in unit
    assert "--mirror-cache-expiry 30" in unit
    assert "--configfile" not in unit  # the resolved values are written, not the file
    compose = (tmp_path / "gen-config" / "docker" / "docker-compose.yml").read_text()
    assert "CELLAR_MIRROR_CACHE_EXPIRY: ${CELLAR_MIRROR_CACHE_EXPIRY:-30}" in compose
    assert 'CELLAR_THREADS: "7"' in compose
    site = (tmp_path / "gen-config" / "nginx-cellar.conf").read_text()
    assert "server 127.0.0.1:5151;" in site


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "0"], "fixed --port"),
        (["--role", "primary"], "--role primary needs --secretfile"),
        (["--role", "replica", "--primary-url", "http://p:3141"], "needs --secretfile"),
        (["--role", "replica", "--secretfile", "s"], "--role replica needs --primary-url"),
        (["--serverdir", "/srv/$HOME"], "contains '$'"),
        (["--serverdir", '/srv/"quoted"'], "contains '\"'"),
        (["--serverdir", "/srv/new\nline"], "contains '\\n'"),
        (["--user", "root"], "--user 'root'"),
        (["--user", "Bad User"], "--user 'Bad User'"),
        (["--listen", "80; evil"], "--listen"),
        (["--server-name", "a;b"], "--server-name"),
        (["--outside-url", "https://x/a b/"], "path of --outside-url"),
        (["--listen", "3141"], "nginx would listen on port 3141"),
        (["--from-checkout", "."], "not a cheesecellar source checkout"),
        (["--host", "cellar.example"], "IP addresses only"),
        (["--build-index-url", "https://x/${HOME}"], "contains '$'"),
    ],
)
def test_bad_input_is_refused_with_one_line_and_nothing_written(capsys, args, message):
    line = refused(capsys, "--serverdir", "/srv/cellar", *args)
    assert message in line


def test_a_checkout_must_hold_the_docker_files(capsys, tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "pyproject.toml").write_text('[project]\nname = "cheesecellar"\n')
    line = refused(
        capsys, "--serverdir", "/srv/c", "--only", "docker", "--from-checkout", str(checkout)
    )
    assert "must be inside the checkout" in line


def test_paths_with_spaces_and_percent_signs_are_quoted(capsys, tmp_path):
    serverdir = "/srv/cellar data/100%"
    code, _out, err = gen_config(
        capsys, "--serverdir", serverdir, "--only", "nginx", "--only", "systemd"
    )
    assert code == 0, err
    unit = (tmp_path / "gen-config" / "cellar.service").read_text()
    assert '--serverdir "/srv/cellar data/100%%" \\\n' in unit
    assert 'ReadWritePaths="/srv/cellar data/100%%"\n' in unit
    site = (tmp_path / "gen-config" / "nginx-cellar.conf").read_text()
    assert 'root "/srv/cellar data/100%/+files";' in site
    assert "#   setfacl -m u:www-data:x '/srv/cellar data/100%'\n" in site


def test_a_storage_without_files_on_disk_gets_a_plain_proxy(capsys, tmp_path):
    code, _out, err = gen_config(
        capsys, "--serverdir", "/srv/c", "--storage", "memory", "--only", "nginx"
    )
    assert code == 0, err
    site = (tmp_path / "gen-config" / "nginx-cellar.conf").read_text()
    assert "+f" not in site.split("upstream", 1)[1]
    assert "try_files" not in site
    assert 'storage backend "memory"' in site


def test_stored_files_follow_the_umask_so_nginx_may_read_them(make_cellar):
    # Blobs used to be 0600 whatever the umask; the generated unit's UMask=0027 and the
    # ACLs of the deployment guide rely on the umask deciding.
    old = os.umask(0o027)
    try:
        live = make_cellar(extra={"no_root_pypi": True})
        with live.session() as session:
            session.login("root", "")
            session.put("/umask", json={"password": "pw"}).raise_for_status()
            session.login("umask", "pw")
            session.put("/umask/dev", json={"bases": ""}).raise_for_status()
        small = wheel("tiny", "1.0")
        large = wheel("large", "1.0", payload=os.urandom(300_000))
        for dist in (small, large):
            upload(live.url + "/umask/dev/", dist, ("umask", "pw")).raise_for_status()
        # Files reach the disk just after their commit, in the store's own thread: wait
        # for them before the umask goes back.
        paths = [live.serverdir / "+files" / relpath_of(dist) for dist in (small, large)]
        wait_for(lambda: all(path.is_file() for path in paths), timeout=10)
    finally:
        os.umask(old)
    for dist, path in zip((small, large), paths, strict=True):
        url = f"{live.url}/{relpath_of(dist)}"
        assert requests.get(url, timeout=10).content == dist.content
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


def relpath_of(dist) -> str:
    return f"umask/dev/+f/{dist.sha256[:3]}/{dist.sha256[3:16]}/{dist.filename}"


def site_for(capsys, *args: str) -> str:
    code, out, err = gen_config(capsys, "--only", "nginx", "--force", *args)
    assert code == 0, out + err
    return (Path("gen-config") / "nginx-cellar.conf").read_text()


def test_the_site_follows_the_server_address_and_limits(capsys):
    site = site_for(
        capsys, "--serverdir", "/srv/c", "--host", "0.0.0.0", "--port", "4000",
        "--max-request-body-size", "5000000",
    )  # fmt: skip
    assert "upstream cellar_4000 {\n    server 127.0.0.1:4000;\n" in site
    assert "proxy_pass http://cellar_4000;" in site
    assert "client_max_body_size 5000000;" in site
    assert "    listen 80;\n    server_name _;\n" in site
    assert 'proxy_set_header X-Outside-Url "$scheme://$http_host";' in site
    assert "proxy_buffering off;" in site
    assert "    location / {\n" in site
    assert site_for(capsys, "--serverdir", "/srv/c", "--host", "::").count("server [::1]:3141;")


def test_an_https_outside_url_with_a_path_sets_listen_name_prefix_and_header(capsys):
    site = site_for(
        capsys, "--serverdir", "/srv/c", "--outside-url", "https://pypi.example.com/py/cellar/",
        "--ssl-certificate", "/etc/ssl/certs/pypi.pem", "--ssl-certificate-key", "/k/pypi.key",
    )  # fmt: skip
    assert "    listen 443 ssl;\n    server_name pypi.example.com;\n" in site
    assert "ssl_certificate /etc/ssl/certs/pypi.pem;\n" in site
    assert "ssl_certificate_key /k/pypi.key;\n" in site
    assert "proxy_set_header X-Outside-Url https://pypi.example.com/py/cellar;" in site
    assert "    location /py/cellar/ {\n" in site
    assert "    location = /py/cellar {\n" in site
    assert r'location ~ "^/py/cellar(?<cellar_file>/' in site
    site = site_for(
        capsys, "--serverdir", "/srv/c", "--outside-url", "http://pypi.example.com:8080",
        "--server-name", "pypi.example.com pypi",
    )  # fmt: skip
    assert "    listen 8080;\n    server_name pypi.example.com pypi;\n" in site
    assert "ssl_certificate" not in site
    site = site_for(capsys, "--serverdir", "/srv/c", "--listen", "127.0.0.1:8081")
    assert "    listen 127.0.0.1:8081;\n" in site
