"""How a failed connection is told apart (no cluster needed): Ray keeps its last connection error as text inside the
exceptions it raises."""

from __future__ import annotations

from raylife.runner.cluster import _refused_for_a_token


def chained(inner: BaseException, outer: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as exc:  # noqa: BLE001
        return exc


def test_a_refusal_for_want_of_a_token_is_recognised_through_rays_wrappers():
    text = ("Failed to connect to GCS. Last connection error: Traceback ...\nray.exceptions.AuthenticationError: RPC "
            "error: InvalidAuthToken: Authentication token is missing or incorrect")
    assert _refused_for_a_token(chained(RuntimeError(text), ConnectionError("Failed to connect to Ray cluster at x:1")))
    assert not _refused_for_a_token(chained(RuntimeError("Failed to connect to GCS: timed out"),
                                            ConnectionError("Failed to connect to Ray cluster at x:1")))
