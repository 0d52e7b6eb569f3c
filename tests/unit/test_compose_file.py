from pathlib import Path

import pytest

from bluegreen_action.compose_file import ComposeFile, normalize_project_name
from bluegreen_action.errors import ComposeFileError

FIX = Path(__file__).parent / "fixtures" / "compose"


def load(name: str) -> ComposeFile:
    return ComposeFile.load(FIX / name)


def text(yaml_text: str, name="compose.yaml", folder="/srv/myrepo") -> ComposeFile:
    return ComposeFile(Path(folder) / name, yaml_text)


def test_article_retag_changes_only_the_anchor_scalar_byte_for_byte():
    c = load("article.yaml")
    r = c.retag(["zerodowndeploy-blue", "zerodowndeploy-green"], "v1.2.3")
    assert r.text == (FIX / "article.v1.2.3.yaml").read_text()
    assert r.new_images == {
        "zerodowndeploy-blue": "ghcr.io/jamie-mh/zerodowndeploy:v1.2.3",
        "zerodowndeploy-green": "ghcr.io/jamie-mh/zerodowndeploy:v1.2.3"}
    assert r.old_images["zerodowndeploy-green"] == "ghcr.io/jamie-mh/zerodowndeploy:latest"


def test_quoting_registry_ports_and_missing_tags_are_kept():
    c = load("odd-refs.yaml")
    r = c.retag(["api-blue", "api-green", "web-blue", "web-green"], "v2")
    assert r.text == (FIX / "odd-refs.v2.yaml").read_text()


def test_a_variable_tag_is_replaced_and_variables_in_the_name_are_left_to_compose():
    c = load("variable-tag.yaml")
    r = c.retag(["app-blue", "app-green"], "v9")
    assert r.text == c.text.replace("${APP_TAG:-v1}", "v9")
    assert r.new_images["app-green"] == "${REGISTRY:-ghcr.io}/acme/app:v9"


def test_set_images_writes_exact_references_for_a_rollback():
    c = load("article.yaml")
    r = c.set_images({"zerodowndeploy-green": "ghcr.io/jamie-mh/zerodowndeploy:v0.9"})
    assert r.text == c.text.replace("zerodowndeploy:latest", "zerodowndeploy:v0.9")


@pytest.mark.parametrize("image,expect", [
    ("app@sha256:" + "a" * 64, "pinned by digest"),
    ("${IMAGE}", "built from variables"),
    ("app:${MAJOR}.${MINOR}", "built from variables"),
])
def test_images_that_cannot_be_retagged_are_refused_with_the_line(image, expect):
    c = text(f"services:\n  a-blue:\n    image: {image}\n  a-green:\n    image: x:1\n")
    with pytest.raises(ComposeFileError, match=expect) as e:
        c.retag(["a-blue"], "v2")
    assert e.value.line == 3 and e.value.hint


def test_missing_green_names_the_service_and_how_to_add_it():
    c = text("services:\n  web-blue:\n    image: x:1\n  proxy:\n    image: caddy\n")
    with pytest.raises(ComposeFileError, match="service `web-green` not found") as e:
        c.require_colors("web")
    assert "web-blue" in e.value.hint and e.value.line == 2


def test_service_without_image_is_refused():
    c = text("services:\n  a-blue:\n    build: .\n  a-green:\n    build: .\n")
    with pytest.raises(ComposeFileError, match="has no `image:`"):
        c.retag(["a-blue"], "v2")


def test_invalid_yaml_points_at_the_line():
    with pytest.raises(ComposeFileError, match="not valid YAML") as e:
        text("services:\n  a-blue:\n    image: [x\n  b: 1\n")
    assert e.value.line is not None


def test_missing_file(tmp_path):
    with pytest.raises(ComposeFileError, match="not found"):
        ComposeFile.load(tmp_path / "compose.yaml")


def test_not_a_compose_file():
    with pytest.raises(ComposeFileError, match="no `services:`"):
        text("- just\n- a list\n")


def test_project_name_precedence():
    assert load("odd-refs.yaml").project_name("ignored") == "shop"
    plain = text("services: {a-blue: {image: x}}\n", folder="/home/runner/work/My.Repo")
    assert plain.project_name("zerodowndeploy") == "zerodowndeploy"
    assert plain.project_name(None) == "myrepo"
    with pytest.raises(ComposeFileError):
        normalize_project_name("...")


def test_proxy_candidates():
    assert load("article.yaml").proxy_candidates(["zerodowndeploy"]) == ["zerodowndeploy-caddy"]
    assert load("odd-refs.yaml").proxy_candidates(["api", "web"]) == ["caddy"]
    assert load("variable-tag.yaml").proxy_candidates(["app"]) == ["proxy"]
    c = text("services:\n  a-blue: {image: x}\n  a-green: {image: x}\n"
             "  edge: {image: x, ports: ['80:80']}\n  db: {image: pg}\n")
    assert c.proxy_candidates(["a"]) == ["edge"]
