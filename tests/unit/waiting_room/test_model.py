from __future__ import annotations

from waiting_room.model import CallRoom, RequestId, RoomId, UserId


def test_room_peer_of() -> None:
    room = CallRoom(RoomId("r"), RequestId("q"), UserId("patient"), UserId("gp"))
    assert room.peer_of(UserId("patient")) == "gp"
    assert room.peer_of(UserId("gp")) == "patient"
    assert room.peer_of(UserId("someone else")) is None
