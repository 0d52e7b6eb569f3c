import io
import tarfile

import docker.errors

from bluegreen_action.history import (
    HistoryEntry,
    HistoryStore,
    Origin,
    deployed_tags,
    format_table,
    make_entry,
    origin_from_env,
    parse_lines,
    render_lines,
)

GITHUB = {"GITHUB_RUN_ID": "42", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_ACTOR": "octo",
          "GITHUB_WORKFLOW": "deploy", "GITHUB_SERVER_URL": "https://github.com",
          "GITHUB_REF_NAME": "v2", "GITHUB_SHA": "0123456789abcdef0123", "GITHUB_RUN_ATTEMPT": "2"}


def entry(new, old=None, result="success", **kw):
    return make_entry(action=kw.pop("action", "deploy"), project="shop", host="deploy@a:22",
                      result=result, new_tag=new, old_tag=old, origin=Origin("me@laptop"),
                      epoch=kw.pop("epoch", 1_800_000_000), **kw)


def test_origin_is_the_github_run_when_there_is_one():
    o = origin_from_env(GITHUB)
    assert o.who == "octo (deploy)"
    assert o.run_url == "https://github.com/acme/shop/actions/runs/42/attempts/2"
    assert o.ref == "v2" and o.describe() == "octo (deploy), ref v2, 0123456789ab"


def test_origin_outside_github_is_user_at_machine():
    assert origin_from_env({"USER": "ann"}, machine="laptop") == Origin("ann@laptop")
    assert origin_from_env({}).who == "unknown"


def test_entries_round_trip_and_bad_lines_are_skipped():
    e = entry("v2", "v1", images={"app-blue": "r/app:v2"}, seconds=5.04)
    text = render_lines([e]) + "not json\n{\"unknown\": 1}\n\n"
    assert parse_lines(text) == [e]
    assert e.seconds == 5.0 and e.time == "2027-01-15T08:00:00Z"
    assert HistoryEntry.from_json(e.to_json()) == e


def test_the_file_keeps_the_newest_entries():
    many = [entry(f"v{i}") for i in range(600)]
    kept = parse_lines(render_lines(many))
    assert len(kept) == 500 and kept[-1].new_tag == "v599"


def test_deployed_tags_are_newest_first_and_count_only_successes():
    entries = [entry("v1"), entry("v2", "v1"), entry("broken", "v2", result="rolled-back"),
               entry("v3", "v2"), entry("v2", "v3", action="rollback")]
    assert deployed_tags(entries) == ["v2", "v3", "v1"]


def test_table_is_newest_first_with_the_run_link():
    e = make_entry(action="deploy", project="shop", host="h", result="success", new_tag="v2",
                   old_tag="v1", origin=origin_from_env(GITHUB), strategy="blue-green",
                   seconds=5.2, epoch=1_800_000_000)
    lines = format_table([entry("v1"), e]).splitlines()
    assert lines[0].split()[:3] == ["WHEN", "(UTC)", "ACTION"]
    assert "v1 -> v2" in lines[1] and "deploy (blue-green)" in lines[1]
    assert lines[1].endswith("octo (deploy) https://github.com/acme/shop/actions/runs/42/attempts/2")
    assert "(none) -> v1" in lines[2]


# -- the Docker adapter against a strict fake -------------------------------------------------

class FakeContainer:
    def __init__(self, engine, mounts):
        self.engine, self.mounts, self.removed = engine, mounts, False

    def get_archive(self, path):
        """A file, or the folder's content for `/history/.` (as Docker names it: `./`,
        `./shop.jsonl`, ...)."""
        folder, name = path.rsplit("/", 1)
        assert folder == "/history" and "bluegreen-history" in self.mounts
        if name == ".":
            files = {f"./{n}": data for n, data in self.engine.files.items()}
        elif name in self.engine.files:
            files = {name: self.engine.files[name]}
        else:
            raise docker.errors.NotFound("no such file")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            if name == ".":
                folder_entry = tarfile.TarInfo("./")
                folder_entry.type = tarfile.DIRTYPE
                tf.addfile(folder_entry)
            for n, data in files.items():
                info = tarfile.TarInfo(n)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
        return iter([buf.getvalue()]), {"name": name}

    def put_archive(self, path, data):
        assert path == "/history" and self.mounts["bluegreen-history"]["mode"] == "rw"
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            for m in tf.getmembers():
                self.engine.files[m.name] = tf.extractfile(m).read()
        return True

    def remove(self, force=False):
        self.removed = True


class FakeEngine:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.volume = False
        self.created: list[FakeContainer] = []
        engine = self

        class Volumes:
            def get(self, name):
                if not engine.volume:
                    raise docker.errors.NotFound("no volume")

            def create(self, name, labels=None):
                assert name == "bluegreen-history"
                engine.volume = True

        class Containers:
            def create(self, image, command, network_disabled, labels, volumes):
                assert image == "sha256:helper" and command == ["true"] and network_disabled
                c = FakeContainer(engine, volumes)
                engine.created.append(c)
                return c

        self.volumes, self.containers = Volumes(), Containers()


def test_store_reads_nothing_without_the_volume_and_appends_through_a_helper():
    engine = FakeEngine()
    store = HistoryStore(engine, "shop", helper_image="sha256:helper")
    assert store.read() == [] and not engine.created
    store.append(entry("v1"))
    all_ = store.append(entry("v2", "v1"))
    assert [e.new_tag for e in all_] == ["v1", "v2"]
    assert [e.new_tag for e in store.read()] == ["v1", "v2"]
    assert list(engine.files) == ["shop.jsonl"]
    assert all(c.removed for c in engine.created)
    assert engine.created[-1].mounts["bluegreen-history"]["mode"] == "ro"


def test_append_also_returns_every_other_projects_history_from_the_same_helper():
    engine = FakeEngine()
    HistoryStore(engine, "shop-prod", helper_image="sha256:helper").append(entry("v1"))
    store = HistoryStore(engine, "shop", helper_image="sha256:helper")
    histories = store.append_and_read_all(entry("v2"))
    assert {p: [e.new_tag for e in es] for p, es in histories.items()} == {
        "shop-prod": ["v1"], "shop": ["v2"]}
    assert len(engine.created) == 2 and all(c.removed for c in engine.created)
    assert sorted(engine.files) == ["shop-prod.jsonl", "shop.jsonl"]
