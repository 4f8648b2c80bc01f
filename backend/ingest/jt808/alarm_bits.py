"""The JT/T 808 alarm flag DWORD (0x0200 "报警标志") as data: one table for the codec, the
alarm rules and the console.

Bits follow the 2013 text (table 24); the 2019 text keeps the positions (it renames bit 29
"碰撞侧翻报警"; we keep the 2013 split of collision 29 / rollover 30). Reserved bits 15-17 are
absent: a set reserved bit decodes as ``bit_<n>`` so nothing a terminal sends is lost. Codes
that would collide with a platform-computed alarm are prefixed: "terminal_overspeed" is the
terminal's own judgement, "overspeed" is ours.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Severity = Literal["info", "warning", "critical"]


class AlarmBit(NamedTuple):
    bit: int
    code: str
    severity: Severity
    zh: str
    en: str


ALARM_BITS: tuple[AlarmBit, ...] = (
    AlarmBit(0, "sos", "critical", "紧急报警", "SOS / emergency button"),
    AlarmBit(1, "terminal_overspeed", "warning", "超速报警", "Overspeed (terminal)"),
    AlarmBit(2, "fatigue", "warning", "疲劳驾驶", "Fatigue driving"),
    AlarmBit(3, "danger_warning", "warning", "危险预警", "Danger warning"),
    AlarmBit(4, "gnss_fault", "info", "GNSS模块发生故障", "GNSS module fault"),
    AlarmBit(5, "gnss_antenna_open", "info", "GNSS天线未接或被剪断", "GNSS antenna disconnected"),
    AlarmBit(6, "gnss_antenna_short", "info", "GNSS天线短路", "GNSS antenna short circuit"),
    AlarmBit(7, "low_voltage", "info", "终端主电源欠压", "Main power low voltage"),
    AlarmBit(8, "power_off", "warning", "终端主电源掉电", "Main power off"),
    AlarmBit(9, "display_fault", "info", "终端LCD或显示器故障", "Display fault"),
    AlarmBit(10, "tts_fault", "info", "TTS模块故障", "TTS module fault"),
    AlarmBit(11, "camera_fault", "info", "摄像头故障", "Camera fault"),
    AlarmBit(12, "ic_card_fault", "info", "道路运输证IC卡模块故障",
             "Transport IC card module fault"),
    AlarmBit(13, "overspeed_warning", "info", "超速预警", "Overspeed pre-warning"),
    AlarmBit(14, "fatigue_warning", "info", "疲劳驾驶预警", "Fatigue pre-warning"),
    AlarmBit(18, "daily_driving_overtime", "warning", "当天累计驾驶超时",
             "Daily driving time exceeded"),
    AlarmBit(19, "parking_overtime", "info", "超时停车", "Parking overtime"),
    AlarmBit(20, "area_in_out", "info", "进出区域", "Entering/leaving area"),
    AlarmBit(21, "route_in_out", "info", "进出路线", "Entering/leaving route"),
    AlarmBit(22, "segment_time", "info", "路段行驶时间不足/过长",
             "Route segment time too short/long"),
    AlarmBit(23, "route_deviation", "warning", "路线偏离报警", "Route deviation"),
    AlarmBit(24, "vss_fault", "info", "车辆VSS故障", "Vehicle speed sensor fault"),
    AlarmBit(25, "fuel_abnormal", "warning", "车辆油量异常", "Abnormal fuel level"),
    AlarmBit(26, "theft", "critical", "车辆被盗", "Vehicle stolen"),
    AlarmBit(27, "illegal_ignition", "critical", "车辆非法点火", "Illegal ignition"),
    AlarmBit(28, "illegal_displacement", "critical", "车辆非法位移", "Illegal displacement"),
    AlarmBit(29, "collision", "critical", "碰撞预警", "Collision"),
    AlarmBit(30, "rollover", "critical", "侧翻预警", "Rollover"),
    AlarmBit(31, "illegal_door_open", "warning", "非法开门报警", "Illegal door opening"),
)
BY_BIT: dict[int, AlarmBit] = {a.bit: a for a in ALARM_BITS}
CODE_TO_BIT: dict[str, int] = {a.code: a.bit for a in ALARM_BITS}


def decode_alarms(flags: int) -> list[str]:
    """Codes of the set bits, lowest bit first."""
    return [BY_BIT[bit].code if bit in BY_BIT else f"bit_{bit}"
            for bit in range(32) if flags >> bit & 1]


def encode_alarms(codes: list[str]) -> int:
    """The inverse, for simulated terminals: ``encode_alarms(["sos", "rollover"])``."""
    flags = 0
    for code in codes:
        flags |= 1 << (int(code[4:]) if code.startswith("bit_") else CODE_TO_BIT[code])
    return flags
