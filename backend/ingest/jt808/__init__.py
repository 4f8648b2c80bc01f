"""JT/T 808 vehicle terminals: codec (framing, header), messages (bodies), alarm bit table,
conversion to ``Position`` and the asyncio TCP gateway."""

from backend.vehicles.alarm_bits import ALARM_BITS, decode_alarms, encode_alarms

from .codec import Frame, FrameError, FrameReader, Header, decode_frame, encode_frame
from .convert import to_position
from .gateway import GatewayStats, HmacAuth, Jt808Gateway
from .messages import Authenticate, Batch, Location, Register

__all__ = [
    "ALARM_BITS", "Authenticate", "Batch", "Frame", "FrameError", "FrameReader", "GatewayStats",
    "Header", "HmacAuth", "Jt808Gateway", "Location", "Register", "decode_alarms", "decode_frame",
    "encode_alarms", "encode_frame", "to_position",
]
