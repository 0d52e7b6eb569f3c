from bluegreen_action.retention import HostImage, keep_tags, select

REPO = "127.0.0.1:5000/sample-app"
REPOS = {REPO}


def img(id_, *tags, digests=()):
    return HostImage(id_, tuple(f"{REPO}:{t}" if ":" not in t else t for t in tags), digests)


def test_keep_tags_are_the_newest_n_plus_the_current():
    assert keep_tags(["v5", "v4", "v3", "v2"], 3) == ("v5", "v4", "v3")
    assert keep_tags(["v5", "v4", "v3"], 1, current=["v6"]) == ("v6", "v5")
    assert keep_tags([], 3, current=["v1"]) == ("v1",)


def test_older_tags_are_removed_and_kept_ones_stay():
    images = [img("a", "v1"), img("b", "v2"), img("c", "v3"), img("d", "v4")]
    plan = select(images, REPOS, ("v4", "v3"), used_ids=set())
    assert [r.ref for r in plan.remove] == [f"{REPO}:v1", f"{REPO}:v2"]
    assert plan.kept == (f"{REPO}:v3", f"{REPO}:v4")


def test_an_image_a_container_uses_is_never_removed():
    images = [img("a", "v1"), img("b", "v2")]
    plan = select(images, REPOS, ("v2",), used_ids={"a"})
    assert plan.remove == () and plan.in_use == (f"{REPO}:v1",)


def test_other_repositories_are_never_touched():
    images = [img("x", "other/app:v1", "postgres:16"), img("a", "v1")]
    plan = select(images, REPOS, ("v9",), used_ids=set())
    assert [r.ref for r in plan.remove] == [f"{REPO}:v1"]


def test_an_image_with_a_kept_and_an_old_tag_loses_only_the_old_tag():
    plan = select([img("a", "v1", "v2")], REPOS, ("v2",), used_ids=set())
    assert [r.ref for r in plan.remove] == [f"{REPO}:v1"] and plan.kept == (f"{REPO}:v2",)


def test_untagged_older_images_of_the_repository_go_unless_used():
    images = [HostImage("old", (), (f"{REPO}@sha256:1",)), HostImage("used", (), (f"{REPO}@sha256:2",)),
              HostImage("foreign", (), ("other/app@sha256:3",))]
    plan = select(images, REPOS, ("v1",), used_ids={"used"})
    assert [r.ref for r in plan.remove] == ["old"]


def test_describe():
    plan = select([img("a", "v1"), img("b", "v2")], REPOS, ("v2",), used_ids=set())
    assert plan.describe() == (f"image retention: removing {REPO}:v1; keeping {REPO}:v2")


def test_other_live_projects_of_the_repository_keep_their_newest_tags():
    from bluegreen_action.history import Origin, make_entry
    from bluegreen_action.retention import kept_for_other_projects

    def deployed(project, *changes, repo=REPO):
        return [make_entry(action="deploy", project=project, host="a", result=result,
                           new_tag=new, old_tag=old, origin=Origin("me"),
                           images={"app-blue": f"{repo}:{new}"})
                for old, new, result in changes]
    histories = {
        "staging": deployed("staging", (None, "v1", "success"), ("v1", "v5", "success")),
        "prod": deployed("prod", (None, "v1", "success"), ("v1", "v2", "success"),
                         ("v2", "v3", "rolled-back")),
        "gone": deployed("gone", (None, "v0", "success")),            # no container left
        "other": deployed("other", (None, "v7", "success"), repo="other/app"),
    }
    live = {"staging", "prod", "other", "unrelated"}
    kept = kept_for_other_projects(histories, live, REPOS, keep=2, own="staging")
    assert kept == {"v2": ["prod"], "v1": ["prod"]}        # v3 failed: not a rollback target
    assert kept_for_other_projects(histories, live, REPOS, keep=1, own="prod") == {"v5": ["staging"]}
    assert kept_for_other_projects({}, live, REPOS, keep=3, own="staging") == {}
