"""Images without a container engine: references, the store, the Dockerfile builder, the registry, the CLI."""

from __future__ import annotations

import io
import json
import tarfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from minik8s.images import build as builder, builtin, reference
from minik8s.images.registry import Registry, RegistryError
from minik8s.images.store import ImageNotFound, ImageStore


@pytest.mark.parametrize("text, canonical, familiar", [
    ("nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("nginx:1.27", "docker.io/library/nginx:1.27", "nginx:1.27"),
    ("bitnami/redis:7", "docker.io/bitnami/redis:7", "bitnami/redis:7"),
    ("localhost:5000/app:1.0", "localhost:5000/app:1.0", "localhost:5000/app:1.0"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("app@sha256:" + "a" * 64, "docker.io/library/app@sha256:" + "a" * 64, "app@sha256:" + "a" * 64),
])
def test_references_follow_dockers_defaults(text: str, canonical: str, familiar: str) -> None:
    ref = reference.parse(text)
    assert (ref.canonical, ref.familiar) == (canonical, familiar)
    assert reference.parse(ref.canonical) == ref


@pytest.mark.parametrize("text", ["", "Nginx", "nginx:", "nginx@sha256:xyz", " nginx", "a//b"])
def test_invalid_references_are_refused(text: str) -> None:
    with pytest.raises(reference.InvalidReference):
        reference.parse(text)


@given(st.lists(st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True), min_size=1, max_size=3),
       st.from_regex(r"[a-z0-9][a-z0-9.-]{0,8}", fullmatch=True))
def test_canonical_form_is_a_fixed_point(parts: list[str], tag: str) -> None:
    ref = reference.parse("/".join(parts) + ":" + tag)
    assert reference.parse(ref.canonical) == ref and ref.tag == tag


def make_context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "ctx"
    (context / "static").mkdir(parents=True)
    (context / "app.py").write_text("print('hi')\n")
    (context / "static" / "index.html").write_text("<h1>mine</h1>\n")
    (context / "Dockerfile").write_text(dockerfile)
    return context


def test_build_layers_config_and_digest(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    context = make_context(tmp_path, "# comment\nFROM nginx:1.27\nARG DIR=/usr/share/nginx/html\n"
                                     "COPY static/ ${DIR}/\nENV A=1 B=two\nENV C three words\n"
                                     "WORKDIR /srv\nWORKDIR app\nEXPOSE 8080/tcp\nLABEL team=web\n")
    image_id, lines = builder.build(context, ["web:1.0"], store)
    assert lines[-2:] == [f"Successfully built {image_id[7:19]}", "Successfully tagged web:1.0"]
    config = store.config(image_id)
    inner = config["config"]
    assert inner["Cmd"] == ["nginx", "-g", "daemon off;"]          # inherited from the base image
    assert {"A=1", "B=two", "C=three words"} <= set(inner["Env"])
    assert inner["WorkingDir"] == "/srv/app"
    assert set(inner["ExposedPorts"]) == {"80/tcp", "8080/tcp"}
    assert inner["Labels"]["team"] == "web" and inner["Labels"][builtin.LABEL_BUILTIN] == "nginx"
    assert "/usr/share/nginx/html" in json.loads(inner["Labels"][builtin.LABEL_PATHS])
    assert store.resolve("web:1.0") == store.resolve(image_id[7:19]) == image_id
    assert store.resolve("docker.io/library/web@" + image_id) == image_id
    rootfs = tmp_path / "rootfs"
    store.unpack(image_id, rootfs)
    assert (rootfs / "usr/share/nginx/html/index.html").read_text() == "<h1>mine</h1>\n"
    # The same context builds the same layer: layers are reproducible.
    again, _ = builder.build(context, ["web:1.1"], store)
    assert store.layers(again) == store.layers(image_id)


def test_entrypoint_resets_an_inherited_cmd_and_shell_form(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    context = make_context(tmp_path, "FROM python\nCOPY app.py /app/\nENTRYPOINT python /app/app.py\n")
    image_id, _ = builder.build(context, ["py:1"], store)
    inner = store.config(image_id)["config"]
    assert inner["Entrypoint"] == ["/bin/sh", "-c", "python /app/app.py"] and inner["Cmd"] is None



@pytest.mark.parametrize("dockerfile, path", [
    ("FROM python\nWORKDIR /app\nCOPY app.py .\n", "app/app.py"),           # "." is the working directory
    ("FROM python\nWORKDIR /app\nCOPY app.py /app\n", "app/app.py"),        # WORKDIR made the folder
    ("FROM nginx\nCOPY static/index.html /usr/share/nginx/html\n",          # a folder of the base image
     "usr/share/nginx/html/index.html"),
    ("FROM python\nCOPY app.py /srv/main.py\n", "srv/main.py"),              # a new name: the file itself
])
def test_copy_into_a_folder_keeps_the_file_name_as_docker_does(tmp_path: Path, dockerfile: str, path: str) -> None:
    store = ImageStore(tmp_path / "images")
    image_id, _ = builder.build(make_context(tmp_path, dockerfile), ["x:1"], store)
    rootfs = tmp_path / "rootfs"
    store.unpack(image_id, rootfs)
    assert (rootfs / path).is_file()

@pytest.mark.parametrize("dockerfile, message", [
    ("FROM busybox\nRUN echo hi\n", "dockerfile parse error on line 2: unsupported instruction: RUN"),
    ("FROM busybox\nFROBNICATE x\n", "dockerfile parse error on line 2: unknown instruction: FROBNICATE"),
    ("COPY a b\n", "must begin with a FROM"),
    ("FROM nosuchbase:1\n", "nosuchbase:1: image not found"),
    ("FROM busybox\nCOPY ../secret /x\n", "forbidden path outside the build context"),
    ("FROM busybox\nCOPY missing.txt /x\n", '"/missing.txt" not found'),
    ("FROM busybox\nFROM nginx\n", "multi-stage builds"),
])
def test_build_errors_are_clear(tmp_path: Path, dockerfile: str, message: str) -> None:
    with pytest.raises(builder.BuildError, match=message.replace("(", r"\(")):
        builder.build(make_context(tmp_path, dockerfile), ["x:1"], ImageStore(tmp_path / "images"))


def test_push_pull_and_remove_through_the_local_registry(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    registry = Registry(tmp_path / "registry")
    image_id, _ = builder.build(make_context(tmp_path, "FROM busybox\nCOPY app.py /app/\n"), ["app:1"], store)
    with pytest.raises(RegistryError, match="cannot reach registry docker.io"):
        registry.push(store, "app:1")
    store.tag(image_id, "localhost:5000/app:1")
    lines = registry.push(store, "localhost:5000/app:1")
    assert lines[0] == "The push refers to repository [localhost:5000/app]" and "Pushed" in lines[1]
    assert "Layer already exists" in registry.push(store, "localhost:5000/app:1")[1]
    other = ImageStore(tmp_path / "node-images")
    assert registry.pull(other, "localhost:5000/app:1") == image_id
    assert other.layers(image_id) == store.layers(image_id)
    with pytest.raises(RegistryError, match="manifest unknown"):
        registry.pull(other, "localhost:5000/app:2")
    removed = store.remove("app:1")
    assert removed == ["Untagged: app:1"]                        # still tagged localhost:5000/app:1
    removed = store.remove("localhost:5000/app:1")
    assert removed[0] == "Untagged: localhost:5000/app:1" and any(r.startswith("Deleted: sha256:") for r in removed)
    assert not store.has_blob(image_id)
    with pytest.raises(ImageNotFound):
        store.remove("app:1")


def test_cli_build_ls_push_pull_rm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from minik8s import imagecli

    monkeypatch.setenv("MINIK8S_HOME", str(tmp_path / "home"))
    context = make_context(tmp_path, "FROM python:3.11\nCOPY app.py /app/\nCMD [\"python\", \"/app/app.py\"]\n")

    def cli(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = imagecli.main(list(args))
        return code, out.getvalue(), err.getvalue()

    code, out, _ = cli("build", "-t", "localhost:5000/hello:1.0", str(context))
    assert code == 0 and "Successfully tagged localhost:5000/hello:1.0" in out
    code, out, _ = cli("ls")
    assert code == 0 and out.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(line.split()[:2] == ["localhost:5000/hello", "1.0"] for line in out.splitlines())
    assert cli("push", "localhost:5000/hello:1.0")[0] == 0
    assert cli("rm", "localhost:5000/hello:1.0")[0] == 0
    code, out, _ = cli("pull", "localhost:5000/hello:1.0")
    assert code == 0 and "Status: Downloaded newer image for localhost:5000/hello:1.0" in out
    code, _, err = cli("rm", "nope:1")
    assert code == 1 and "No such image: nope:1" in err
    code, _, err = cli("build", "-t", "x", str(tmp_path / "nowhere"))
    assert code == 1 and err.startswith("ERROR: failed to read dockerfile")


def test_builtin_images_have_stable_digests() -> None:
    nginx = builtin.BUILTINS["nginx"]
    assert nginx.digest() == nginx.digest() and nginx.digest().startswith("sha256:")
    assert builtin.lookup(reference.parse("nginx:1.25")) is nginx
    assert builtin.lookup(reference.parse("localhost:5000/nginx")) is None
    assert builtin.lookup(reference.parse("minik8s/kvstore:1.0")) is builtin.BUILTINS["minik8s/kvstore"]


def test_dockerignore_leaves_files_out_of_copy(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    context = make_context(tmp_path, "FROM python:3.12\nWORKDIR /app\nCOPY . .\n")
    (context / "tests").mkdir()
    (context / "tests" / "test_app.py").write_text("assert True\n")
    (context / "static" / "notes.md").write_text("draft\n")
    (context / "static" / "README.md").write_text("keep me\n")
    (context / ".env").write_text("API_TOKEN=secret\n")
    (context / ".dockerignore").write_text("# not for the image\ntests\n.env\n**/*.md\n!static/README.md\n")
    image_id, _ = builder.build(context, ["app:1.0"], store)
    [layer] = store.layers(image_id)
    with tarfile.open(store.blob_path(layer)) as tar:
        names = sorted(tar.getnames())
    assert names == ["app/.dockerignore", "app/Dockerfile", "app/app.py", "app/static/README.md",
                     "app/static/index.html"]
    # A file the context leaves out cannot be copied by name either, as with Docker.
    (context / "Dockerfile").write_text("FROM python:3.12\nCOPY .env /app/\n")
    with pytest.raises(builder.BuildError, match='"/.env" not found'):
        builder.build(context, ["app:1.1"], store)


@pytest.mark.parametrize("pattern, path, left_out", [
    ("*.pyc", "app.pyc", True), ("*.pyc", "pkg/app.pyc", False), ("**/*.pyc", "pkg/sub/app.pyc", True),
    ("__pycache__", "__pycache__/x.pyc", True), ("/build", "build/out.bin", True), ("b?ild", "build", True),
    ("[a-c]at", "bat", True), ("[a-c]at", "dat", False),
])
def test_dockerignore_patterns(tmp_path: Path, pattern: str, path: str, left_out: bool) -> None:
    (tmp_path / ".dockerignore").write_text(pattern + "\n")
    assert builder.ignored(path, builder.read_dockerignore(tmp_path)) is left_out
