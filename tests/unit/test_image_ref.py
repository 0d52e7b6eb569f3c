import pytest

from bluegreen_action.image_ref import ImageRef, valid_tag


@pytest.mark.parametrize("ref,name,tag,digest", [
    ("app", "app", None, None),
    ("app:v1", "app", "v1", None),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app", None, None),
    ("127.0.0.1:5000/team/app:v1.2", "127.0.0.1:5000/team/app", "v1.2", None),
    ("ghcr.io/a/b:v1@sha256:cd", "ghcr.io/a/b", "v1", "sha256:cd"),
    ("${REG:-ghcr.io}/a:${TAG:-v1}", "${REG:-ghcr.io}/a", "${TAG:-v1}", None),
])
def test_parse(ref, name, tag, digest):
    r = ImageRef.parse(ref)
    assert (r.name, r.tag, r.digest) == (name, tag, digest)
    assert str(r) == ref


@pytest.mark.parametrize("tag,var", [("${TAG}", "TAG"), ("${T:-v1}", "T"), ("$T", "T"),
                                     ("v1", None), ("${A}${B}", None)])
def test_tag_variable(tag, var):
    assert ImageRef("x", tag, None).tag_variable == var


@pytest.mark.parametrize("tag,ok", [("v1.2.3", True), ("latest", True), ("sha-abc_1", True),
                                    ("-x", False), ("a/b", False), ("a b", False), ("", False),
                                    ("x" * 129, False), ("v1;rm", False)])
def test_valid_tag(tag, ok):
    assert valid_tag(tag) is ok
