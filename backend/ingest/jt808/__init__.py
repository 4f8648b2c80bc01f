"""JT/T 808 vehicle terminals: codec (framing, header), messages (bodies), alarm bit table,
conversion to ``Position``, terminal trust and the asyncio TCP gateway."""

from .alarm_bits import ALARM_BITS, decode_alarms, encode_alarms
from .codec import Frame, FrameError, FrameReader, Header, decode_frame, encode_frame
from .convert import to_position
from .gateway import GatewayStats, Jt808Gateway
from .messages import Authenticate, Batch, Location, Register
from .trust import Registration, TerminalSession, TerminalTrust, phone_key

__all__ = [
    "ALARM_BITS", "Authenticate", "Batch", "Frame", "FrameError", "FrameReader", "GatewayStats",
    "Header", "Jt808Gateway", "Location", "Register", "Registration", "TerminalSession",
    "TerminalTrust", "decode_alarms", "decode_frame", "encode_alarms", "encode_frame",
    "phone_key", "to_position",
]
