import pytest

from gas import keys


def test_upload_keys_carry_ids_only_and_parse_back() -> None:
    user, upload = keys.new_id(), keys.new_id()
    key = keys.upload_key(user, upload)
    assert key == f"uploads/{user}/{upload}/input.vcf"
    assert keys.parse_upload_key(key) == (user, upload)


@pytest.mark.parametrize(
    "bad", ["../etc/passwd", "uploads/x/y/input.vcf", "uploads/a/b/c/d", "", "results/a/b"]
)
def test_anything_else_is_not_an_upload_key(bad: str) -> None:
    with pytest.raises(keys.InvalidKey):
        keys.parse_upload_key(bad)


def test_user_text_never_becomes_a_key() -> None:
    with pytest.raises(keys.InvalidKey):
        keys.upload_key("../../other", keys.new_id())
    with pytest.raises(keys.InvalidKey):
        keys.result_key(keys.new_id(), "x/../../y", "annotated")


def test_job_id_is_stable_per_upload() -> None:
    key = keys.upload_key(keys.new_id(), keys.new_id())
    assert keys.job_id_for_upload(key) == keys.job_id_for_upload(key)
    other = keys.upload_key(keys.new_id(), keys.new_id())
    assert keys.job_id_for_upload(key) != keys.job_id_for_upload(other)
    assert keys.is_id(keys.job_id_for_upload(key))


def test_a_result_key_parses_back_and_nothing_else_does() -> None:
    user, job = keys.new_id(), keys.new_id()
    assert keys.parse_result_key(keys.result_key(user, job, "log")) == (user, job, "log")
    for key in ("uploads/x/y/input.vcf", f"results/{user}/{job}/other.txt", "results/a/b"):
        with pytest.raises(keys.InvalidKey):
            keys.parse_result_key(key)
