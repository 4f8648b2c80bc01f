"""The JT/T 808 alarm flag DWORD (0x0200 "报警标志") as data.

Bits follow the 2013 text; the 2019 text keeps the same positions (it renames bit 29
"碰撞侧翻报警"; we keep the 2013 split of collision 29 / rollover 30). Reserved bits 15-17 are
absent: a set reserved bit decodes as ``bit_<n>`` so nothing a terminal sends is lost.
"""

from __future__ import annotations

from typing import NamedTuple


class AlarmBit(NamedTuple):
    code: str
    zh: str
    en: str


ALARM_BITS: dict[int, AlarmBit] = {
    0: AlarmBit("sos", "紧急报警", "SOS / emergency button"),
    1: AlarmBit("overspeed", "超速报警", "Overspeed"),
    2: AlarmBit("fatigue", "疲劳驾驶", "Fatigue driving"),
    3: AlarmBit("danger_warning", "危险预警", "Danger warning"),
    4: AlarmBit("gnss_fault", "GNSS模块发生故障", "GNSS module fault"),
    5: AlarmBit("gnss_antenna_open", "GNSS天线未接或被剪断", "GNSS antenna disconnected"),
    6: AlarmBit("gnss_antenna_short", "GNSS天线短路", "GNSS antenna short circuit"),
    7: AlarmBit("low_voltage", "终端主电源欠压", "Main power low voltage"),
    8: AlarmBit("power_off", "终端主电源掉电", "Main power off"),
    9: AlarmBit("display_fault", "终端LCD或显示器故障", "Display fault"),
    10: AlarmBit("tts_fault", "TTS模块故障", "TTS module fault"),
    11: AlarmBit("camera_fault", "摄像头故障", "Camera fault"),
    12: AlarmBit("ic_card_fault", "道路运输证IC卡模块故障", "Transport IC card module fault"),
    13: AlarmBit("overspeed_warning", "超速预警", "Overspeed pre-warning"),
    14: AlarmBit("fatigue_warning", "疲劳驾驶预警", "Fatigue pre-warning"),
    18: AlarmBit("daily_driving_overtime", "当天累计驾驶超时", "Daily driving time exceeded"),
    19: AlarmBit("parking_overtime", "超时停车", "Parking overtime"),
    20: AlarmBit("area_in_out", "进出区域", "Entering/leaving area"),
    21: AlarmBit("route_in_out", "进出路线", "Entering/leaving route"),
    22: AlarmBit("segment_time", "路段行驶时间不足/过长", "Route segment time too short/long"),
    23: AlarmBit("route_deviation", "路线偏离报警", "Route deviation"),
    24: AlarmBit("vss_fault", "车辆VSS故障", "Vehicle speed sensor fault"),
    25: AlarmBit("fuel_abnormal", "车辆油量异常", "Abnormal fuel level"),
    26: AlarmBit("stolen", "车辆被盗", "Vehicle stolen"),
    27: AlarmBit("illegal_ignition", "车辆非法点火", "Illegal ignition"),
    28: AlarmBit("illegal_displacement", "车辆非法位移", "Illegal displacement"),
    29: AlarmBit("collision", "碰撞预警", "Collision"),
    30: AlarmBit("rollover", "侧翻预警", "Rollover"),
    31: AlarmBit("illegal_door_open", "非法开门报警", "Illegal door opening"),
}

CODE_TO_BIT: dict[str, int] = {a.code: bit for bit, a in ALARM_BITS.items()}


def decode_alarms(flags: int) -> list[str]:
    """Codes of the set bits, lowest bit first."""
    return [
        ALARM_BITS[bit].code if bit in ALARM_BITS else f"bit_{bit}"
        for bit in range(32)
        if flags >> bit & 1
    ]


def encode_alarms(codes: list[str]) -> int:
    """The inverse, for simulated terminals: ``encode_alarms(["sos", "rollover"])``."""
    flags = 0
    for code in codes:
        flags |= 1 << (int(code[4:]) if code.startswith("bit_") else CODE_TO_BIT[code])
    return flags
