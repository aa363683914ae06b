"""``kubectl get`` and ``kubectl describe``: reading objects and printing them.

``get`` asks the server for a Table (the server decides the columns, as a real
API server does) and prints it, or prints the objects themselves with
``-o yaml|json|name|jsonpath=...``. ``describe`` gathers an object and its
related objects and events into a report.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any

from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.kubectl import manifests, printing, restmapper
from minik8s.kubectl.command import CommandError, Env, resolve, server_error

Target = tuple[Resource, list[str]]


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    get = sub.add_parser("get", parents=[parent], add_help=False)
    get.add_argument("resources", nargs="*")
    get.add_argument("-o", "--output", default=None)
    get.add_argument("-l", "--selector", default=None)
    get.add_argument("--field-selector", default=None)
    get.add_argument("-A", "--all-namespaces", action="store_true")
    get.add_argument("--show-labels", action="store_true")
    get.add_argument("-L", "--label-columns", action="append", default=[])
    get.add_argument("--no-headers", action="store_true")
    get.add_argument("-w", "--watch", action="store_true")
    get.add_argument("--watch-only", action="store_true")
    get.add_argument("--show-kind", action="store_true")
    get.add_argument("-f", "--filename", action="append", default=[])
    get.add_argument("-R", "--recursive", action="store_true")
    get.add_argument("--ignore-not-found", action="store_true")
    get.add_argument("--chunk-size", default=None)
    get.add_argument("--sort-by", default=None)
    get.add_argument("--show-managed-fields", action="store_true")
    get.set_defaults(handler=cmd_get)

    describe = sub.add_parser("describe", parents=[parent], add_help=False)
    describe.add_argument("resources", nargs="*")
    describe.add_argument("-l", "--selector", default=None)
    describe.add_argument("-A", "--all-namespaces", action="store_true")
    describe.add_argument("-f", "--filename", action="append", default=[])
    describe.add_argument("--show-events", default="true")
    describe.set_defaults(handler=cmd_describe)


def parse_targets(words: list[str]) -> list[Target]:
    """``pods``, ``pods nginx web``, ``pods/nginx svc/web``, ``pods,svc``, ``all`` → (resource, names) pairs."""
    if not words:
        raise CommandError("You must specify the type of resource to get. Use \"kubectl api-resources\" for a "
                           "complete list of supported resources.")
    if "/" in words[0]:
        targets: list[Target] = []
        for word in words:
            if "/" not in word:
                raise CommandError("there is no need to specify a resource type as a separate argument when "
                                   "passing arguments in resource/name form (e.g. 'kubectl get resource/<"
                                   "resource_name>' instead of 'kubectl get resource resource/<resource_name>'")
            kind, _, name = word.partition("/")
            targets.append((resolve(kind), [name]))
        return targets
    kinds: list[Resource] = []
    for part in words[0].split(","):
        if part == "all":
            kinds.extend(r for r in restmapper.served() if "all" in r.categories)   # custom kinds may join "all"
        elif part:
            kinds.append(resolve(part))
    return [(kind, list(words[1:])) for kind in kinds]


def _now(env: Env) -> datetime:
    return datetime.fromtimestamp(env.clock.now(), tz=timezone.utc)


def _namespace_for(env: Env, resource: Resource) -> str | None:
    if not resource.namespaced or getattr(env.args, "all_namespaces", False):
        return None
    return env.namespace


def list_objects(env: Env, resource: Resource, namespace: str | None, label_selector: str | None = None,
                 field_selector: str | None = None, table: bool = False) -> dict[str, Any]:
    """List (or list as a Table), wording a 400/404 as kubectl's selector visitor does."""
    try:
        if table:
            return env.client.table(resource, namespace, label_selector=label_selector, field_selector=field_selector)
        return env.client.list(resource, namespace, label_selector=label_selector, field_selector=field_selector)
    except StatusError as err:
        if err.code not in (400, 404):
            raise
        gvr = f'"{resource.group}/{resource.version}, Resource={resource.plural}"'
        if label_selector or field_selector:
            err.message = (f'Unable to find {gvr} that match label selector "{label_selector or ""}", '
                           f'field selector "{field_selector or ""}": {err.message}')
        else:
            err.message = f"Unable to list {gvr}: {err.message}"
        raise


def _fetch(env: Env, targets: list[Target]) -> list[tuple[Resource, list[dict[str, Any]]]]:
    """The objects the targets name: listed (no names) or fetched one by one (reporting each miss)."""
    a = env.args
    found: list[tuple[Resource, list[dict[str, Any]]]] = []
    for resource, names in targets:
        ns = _namespace_for(env, resource)
        if names:
            objs = []
            for name in names:
                try:
                    objs.append(env.client.get(resource, name, ns))
                except StatusError as err:
                    if err.code == 404 and getattr(a, "ignore_not_found", False):
                        continue
                    env.error(server_error(err))
            found.append((resource, objs))
        else:
            listed = list_objects(env, resource, ns, a.selector, getattr(a, "field_selector", None))
            found.append((resource, listed["items"]))
    return found


def _targets_from_files(env: Env) -> list[Target]:
    targets: list[Target] = []
    for manifest in manifests.read(env.args.filename, env.stdin, env.args.recursive):
        resource = restmapper.of_object(manifest.obj)
        if resource is None:
            raise CommandError(f'no matches for kind "{manifest.obj.get("kind")}" in version '
                               f'"{manifest.obj.get("apiVersion")}"')
        targets.append((resource, [(manifest.obj.get("metadata") or {}).get("name", "")]))
    return targets


def cmd_get(env: Env) -> None:
    a = env.args
    targets = _targets_from_files(env) if a.filename else parse_targets(a.resources)
    output = a.output or ""
    if output in ("", "wide"):
        if a.watch or a.watch_only:
            _watch(env, targets, wide=output == "wide")
        else:
            _print_tables(env, targets, wide=output == "wide")
        return
    found = _fetch(env, targets)
    objs = [obj for _, group in found for obj in group]
    single = len(targets) == 1 and len(targets[0][1]) == 1 and len(objs) == 1
    if not objs and not single and (output not in ("json", "yaml") or env.failed):
        if not env.failed and output != "name":
            _no_resources(env, targets)
        return
    if output == "name":
        for resource, group in found:
            for obj in group:
                env.out.write(printing.to_name(resource, obj) + "\n")
        return
    document = objs[0] if single else {"apiVersion": "v1", "items": objs, "kind": "List",
                                       "metadata": {"resourceVersion": ""}}
    if output == "yaml":
        env.out.write(printing.to_yaml(document, a.show_managed_fields))
    elif output == "json":
        env.out.write(printing.to_json(document, a.show_managed_fields) + "\n")
    elif output.startswith("jsonpath="):
        template = output[len("jsonpath="):].strip("'\"")
        try:
            env.out.write(printing.jsonpath(template, document))
        except printing.JSONPathError as exc:
            raise CommandError(f"error parsing jsonpath {template}, {exc}") from None
    elif output.startswith("custom-columns="):
        env.out.write(printing.custom_columns(output[len("custom-columns="):], objs, no_headers=a.no_headers))
    else:
        raise CommandError(f'unable to match a printer suitable for the output format "{output}", allowed formats '
                           "are: custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,"
                           "jsonpath-as-json,jsonpath-file,name,template,templatefile,wide,yaml")


def _no_resources(env: Env, targets: list[Target]) -> None:
    all_ns = getattr(env.args, "all_namespaces", False)
    namespaced = any(resource.namespaced for resource, _ in targets)
    env.err.write(printing.no_resources_message(env.namespace if namespaced else None, all_ns) + "\n")


def _print_tables(env: Env, targets: list[Target], wide: bool) -> None:
    a = env.args
    several = len(targets) > 1 or a.show_kind
    printed_any = False
    for resource, names in targets:
        ns = _namespace_for(env, resource)
        tables: list[dict[str, Any]] = []
        if names:
            for name in names:
                try:
                    tables.append(env.client.table(resource, ns, name))
                except StatusError as err:
                    if not (err.code == 404 and a.ignore_not_found):
                        env.error(server_error(err))
        else:
            tables.append(list_objects(env, resource, ns, a.selector, a.field_selector, table=True))
        rows = [row for table in tables for row in table.get("rows", [])]
        if not rows:
            continue
        merged = {**tables[0], "rows": rows}
        text = printing.render_table(merged, wide=wide, show_labels=a.show_labels, no_headers=a.no_headers,
                                     with_namespace=a.all_namespaces and resource.namespaced,
                                     label_columns=_label_columns(a.label_columns),
                                     resource_prefix=resource.kind_ref if several else None)
        if printed_any:
            env.out.write("\n")
        env.out.write(text)
        printed_any = True
    if not printed_any and not env.failed and not any(names for _, names in targets):
        _no_resources(env, targets)


def _label_columns(values: list[str]) -> list[str]:
    return [key for value in values for key in value.split(",") if key]


def _watch(env: Env, targets: list[Target], wide: bool) -> None:
    """``get -w``: the current rows (unless ``--watch-only``), then a row per change, aligned as one table."""
    if len(targets) != 1:
        raise CommandError("you may only specify a single resource type")
    a = env.args
    resource, names = targets[0]
    ns = _namespace_for(env, resource)
    field_selector = a.field_selector
    if names:
        field_selector = f"metadata.name={names[0]}"
    printer = printing.TableWatchPrinter(wide=wide, with_namespace=a.all_namespaces and resource.namespaced,
                                         show_labels=a.show_labels, label_columns=_label_columns(a.label_columns))
    table = list_objects(env, resource, ns, a.selector, field_selector, table=True)
    if not a.watch_only:
        if table.get("rows"):
            env.out.write(printer.print(table))
        else:
            _no_resources(env, targets)
        env.out.flush()
    watch = env.client.watch(resource, ns, resource_version=(table.get("metadata") or {}).get("resourceVersion"),
                             label_selector=a.selector, field_selector=field_selector)
    try:
        for event in watch:
            if event.get("type") not in ("ADDED", "MODIFIED", "DELETED"):
                continue
            env.out.write(printer.print(_table_of(env, resource, event["object"])))
            env.out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        watch.stop()


def _table_of(env: Env, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    from minik8s.apiserver import tables

    return tables.to_table(resource, [obj], now=_now(env))


def cmd_describe(env: Env) -> None:
    from minik8s.kubectl.describe import describe

    a = env.args
    targets = _targets_from_files(env) if a.filename else parse_targets(a.resources)
    # `kubectl describe pods nginx` matches names by prefix, as upstream does.
    found: list[tuple[Resource, list[dict[str, Any]]]] = []
    for resource, names in targets:
        ns = _namespace_for(env, resource)
        if not names:
            found.append((resource, list_objects(env, resource, ns, a.selector)["items"]))
            continue
        for name in names:
            try:
                found.append((resource, [env.client.get(resource, name, ns)]))
            except StatusError as err:
                if err.code != 404:
                    raise
                matches = [o for o in env.client.list(resource, ns)["items"]
                           if o["metadata"]["name"].startswith(name)]
                if not matches:
                    env.error(server_error(err))
                found.append((resource, matches))
    first = True
    for resource, objs in found:
        for obj in objs:
            if not first:
                env.out.write("\n\n")
            env.out.write(describe(env.client, resource, obj, now=_now(env)).rstrip("\n") + "\n")
            first = False
    if first and not env.failed:
        _no_resources(env, targets)
