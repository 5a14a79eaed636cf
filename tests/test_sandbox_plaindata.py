"""Plain data keeps exact builtin types and refuses everything else."""

import math
import socket

import pytest
from sppo_gym.sandbox import plaindata
from sppo_gym.sandbox.channel import Channel, ChannelClosed
from sppo_gym.sandbox.protocol import FrameReader, ProtocolError, encode


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, 1, -(2**80), 1.5, -0.0, "héllo\x00", b"\x00\xff", [1, [2]], (1, "a"), {1, 2},
     frozenset({3}), {"a": 1, (1, 2): [None]}, 1 + 2j, []],
)
def test_roundtrip_keeps_value_and_type(value):
    back = plaindata.decode(plaindata.encode(value))
    assert back == value and type(back) is type(value)


def test_bool_is_not_int_and_nan_survives():
    assert plaindata.decode(plaindata.encode([True, 1])) == [True, 1]
    assert [type(x) for x in plaindata.decode(plaindata.encode([True, 1]))] == [bool, int]
    assert math.isnan(plaindata.decode(plaindata.encode(float("nan"))))
    assert plaindata.decode(plaindata.encode(float("-inf"))) == float("-inf")


class AlwaysEqual:
    def __eq__(self, other):
        return True


class SneakyInt(int):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [AlwaysEqual(), SneakyInt(3), [1, AlwaysEqual()], {"k": SneakyInt(1)}, object, print])
def test_non_plain_values_are_refused(value):
    with pytest.raises(plaindata.PlainDataError):
        plaindata.encode(value)


def test_size_and_depth_bounds():
    deep: list = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(plaindata.PlainDataError):
        plaindata.encode(deep)
    with pytest.raises(plaindata.PlainDataError):
        plaindata.encode(list(range(100)), max_nodes=50)
    with pytest.raises(plaindata.PlainDataError):
        plaindata.encode(2 ** (1 << 17))


@pytest.mark.parametrize("bad", [["x", 1], ["i", 5], ["l", "notalist"], ["d", [[["l", []], ["n", None]]]], 7, ["s"]])
def test_malformed_encodings_are_rejected(bad):
    with pytest.raises(plaindata.PlainDataError):
        plaindata.decode(bad)


def test_frame_reader_handles_split_frames_and_oversize():
    data = encode({"a": 1}) + encode({"b": 2})
    reader = FrameReader()
    got = []
    for i in range(len(data)):
        got += reader.feed(data[i : i + 1])
    assert got == [{"a": 1}, {"b": 2}]
    with pytest.raises(ProtocolError):
        FrameReader(max_frame=10).feed(encode({"x": "y" * 100}))


def test_channel_roundtrip_and_close():
    a, b = socket.socketpair()
    left, right = Channel(a.fileno()), Channel(b.fileno())
    left.send({"t": (1, 2), "s": {True}})
    assert right.recv(timeout=1) == {"t": (1, 2), "s": {True}}
    a.close()
    with pytest.raises(ChannelClosed):
        right.recv(timeout=1)
