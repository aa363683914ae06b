"""``minik8s image``: build, list, tag, push, pull and remove images, without a container engine.

    minik8s image build -t app:1.0 [-f Dockerfile] DIR
    minik8s image ls
    minik8s image tag app:1.0 localhost:5000/app:1.0
    minik8s image push localhost:5000/app:1.0
    minik8s image pull localhost:5000/app:1.0
    minik8s image rm app:1.0
    minik8s image inspect app:1.0

The commands and their output follow ``docker``'s. Images live in
``$MINIK8S_HOME/images`` (default ``~/.minik8s``), the local registry ``localhost:5000``
in ``$MINIK8S_HOME/registry``; the ``process`` runtime's nodes use both.

Interface: ``main(argv) -> exit code``; ``add_arguments(parser)`` for ``minik8s image``.
Taught in chapter 6 (building images).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from minik8s.images import build as builder, builtin, reference
from minik8s.images.registry import Registry, RegistryError
from minik8s.images.store import ImageNotFound, ImageStore, minik8s_home


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="image_command", metavar="COMMAND")
    b = sub.add_parser("build", help="build an image from a Dockerfile")
    b.add_argument("-t", "--tag", action="append", default=[], help="name:tag (repeatable)")
    b.add_argument("-f", "--file", help="the Dockerfile (default: DIR/Dockerfile)")
    b.add_argument("-q", "--quiet", action="store_true", help="print only the image ID")
    b.add_argument("context", help="the build context folder")
    sub.add_parser("ls", aliases=["images", "list"], help="list images")
    t = sub.add_parser("tag", help="give an image another name")
    t.add_argument("source")
    t.add_argument("target")
    for name, text in (("push", "push to the local registry localhost:5000"), ("pull", "pull from it")):
        sub.add_parser(name, help=text).add_argument("name")
    r = sub.add_parser("rm", aliases=["rmi"], help="remove images")
    r.add_argument("names", nargs="+")
    i = sub.add_parser("inspect", help="print an image's config as JSON")
    i.add_argument("name")


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n}B"


def run(args: argparse.Namespace, out: object | None = None, err: object | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    store = ImageStore(minik8s_home() / "images")
    registry = Registry()
    command = args.image_command

    def say(text: str, stream: object = out) -> None:
        print(text, file=stream)  # type: ignore[call-overload]

    try:
        if command == "build":
            image_id, lines = builder.build(Path(args.context), args.tag, store,
                                            Path(args.file) if args.file else None)
            for line in ([image_id] if args.quiet else lines):
                say(line)
        elif command in ("ls", "images", "list"):
            say(f"{'REPOSITORY':<32}{'TAG':<12}{'IMAGE ID':<16}{'CREATED':<22}SIZE")
            for image_id, tags in store.images():
                created = str(store.config(image_id).get("created", ""))
                for tag in tags:
                    ref = reference.parse(tag)
                    say(f"{ref.short:<32}{ref.tag:<12}{image_id.split(':')[1][:12]:<16}{created:<22}"
                        f"{_size(store.size(image_id))}")
            for name, image in sorted(builtin.BUILTINS.items()):
                say(f"{name:<32}{'*':<12}{image.digest().split(':')[1][:12]:<16}{'built-in':<22}{_size(image.size)}")
        elif command == "tag":
            image_id = store.resolve(args.source)
            if image_id is None:
                say(f"Error response from daemon: No such image: {args.source}", err)
                return 1
            store.tag(image_id, args.target)
        elif command == "push":
            for line in registry.push(store, args.name):
                say(line)
        elif command == "pull":
            ref = reference.parse(args.name)
            image_id = registry.pull(store, args.name)
            say(f"{ref.tag or ref.digest}: Pulling from {ref.repository}")
            say(f"Digest: {image_id}")
            say(f"Status: Downloaded newer image for {ref.familiar}")
            say(ref.canonical)
        elif command in ("rm", "rmi"):
            code = 0
            for name in args.names:
                try:
                    for line in store.remove(name):
                        say(line)
                except ImageNotFound:
                    say(f"Error response from daemon: No such image: {name}", err)
                    code = 1
            return code
        elif command == "inspect":
            image_id = store.resolve(args.name)
            if image_id is None:
                say(f"Error: No such image: {args.name}", err)
                return 1
            say(json.dumps([{"Id": image_id, "RepoTags": [t for i, ts in store.images() if i == image_id
                                                          for t in ts], **store.config(image_id)}], indent=4))
        else:
            say("usage: minik8s image {build,ls,tag,push,pull,rm,inspect} ...", err)
            return 2
    except (builder.BuildError, RegistryError, ImageNotFound, reference.InvalidReference) as exc:
        say(f"ERROR: {exc}" if command == "build" else f"Error response from daemon: {exc}", err)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="minik8s image", description="build and move images")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
