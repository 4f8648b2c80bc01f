"""GB/T 28181 device and channel ids: 20 digits = centre code (8: the GB/T 2260 administrative
code of province, city, county and a base unit, zero-padded) + industry (2) + type (3) +
network (1) + serial (6). Pure: decoding says which part is wrong, so a register, an import or
a webhook can refuse with a message a person can act on."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

# The standard's codes this registry knows (DOMAIN.md §8; GB/T 28181-2016 appendix D).
INDUSTRY = {
    "00": "社会治安路面接入", "01": "社会治安社区接入", "02": "社会治安内部接入",
    "03": "社会治安其他接入", "04": "交通路面接入", "05": "交通卡口接入", "06": "交通内部接入",
    "07": "交通其他接入", "08": "城市管理接入", "09": "卫生环保接入", "10": "商检海关接入",
    "11": "教育部门接入", "40": "农林牧渔业接入", "41": "采矿企业接入", "42": "制造企业接入",
    "43": "冶金企业接入", "44": "电力企业接入", "45": "燃气企业接入", "46": "建筑企业接入",
    "47": "物流企业接入", "48": "邮政企业接入", "49": "信息企业接入", "50": "住宿和餐饮业接入",
    "51": "金融企业接入", "52": "房地产业接入", "53": "商务服务业接入", "54": "水利企业接入",
    "55": "娱乐企业接入", "80": "社会监控接入",
}
TYPES = {
    "111": "DVR", "112": "视频服务器", "113": "编码器", "114": "解码器", "115": "视频切换矩阵",
    "116": "音频切换矩阵", "117": "报警控制器", "118": "NVR", "130": "混合硬盘录像机",
    "131": "摄像机", "132": "网络摄像机", "133": "显示器", "134": "报警输入设备",
    "135": "报警输出设备", "136": "语音输入设备", "137": "语音输出设备", "138": "移动传输设备",
    "200": "中心信令控制服务器", "201": "Web应用服务器", "202": "媒体分发服务器",
    "203": "代理服务器", "204": "安全服务器", "205": "报警服务器", "206": "数据库服务器",
    "207": "GIS服务器", "208": "管理服务器", "209": "接入网关", "210": "媒体存储服务器",
    "211": "信令安全路由网关", "215": "业务分组", "216": "虚拟组织",
}
CHANNEL_TYPES = frozenset({"131", "132"})      # what shows a picture: a camera on the map
DEVICE_TYPES = frozenset({"111", "118", "130", "131", "132"})  # what may REGISTER
NETWORKS = {"0": "监控报警专网", "1": "监控报警专网", "2": "监控报警专网",
            "3": "监控报警专网", "4": "监控报警专网", "5": "公安信息网", "6": "政务网",
            "7": "Internet", "8": "社会资源接入网"}

_DIGITS = re.compile(r"[0-9]{20}")


class DeviceIdError(ValueError):
    """A device id that does not decode; `part` names the wrong part."""

    def __init__(self, device_id: str, part: str, message: str) -> None:
        super().__init__(f"device id {device_id!r}: {part}: {message}")
        self.part = part


@dataclass(frozen=True, slots=True)
class DeviceId:
    code: str
    centre: str       # 8 digits
    civil_code: str   # the county's administrative code (6 digits)
    base_unit: str    # the centre code's last two digits
    industry: str
    type_code: str
    network: str
    serial: str

    @property
    def type_name(self) -> str:
        return TYPES[self.type_code]

    @property
    def is_camera(self) -> bool:
        return self.type_code in CHANNEL_TYPES


def decode(device_id: str, counties: Collection[str] | None = None) -> DeviceId:
    """Decode a 20-digit id. `counties`: the 6-digit administrative codes accepted (this
    county's); the centre code's first six digits must be one of them, its last two are the base
    unit the platform assigned (00 for the county's own centre). A township is named by the
    catalog's CivilCode (9 digits), not by the id: 8 digits cannot hold a 9-digit code."""
    if not isinstance(device_id, str) or not _DIGITS.fullmatch(device_id):
        shown = device_id if isinstance(device_id, str) else type(device_id).__name__
        raise DeviceIdError(str(shown)[:40], "format", "must be exactly 20 digits")
    centre, industry = device_id[:8], device_id[8:10]
    type_code, network, serial = device_id[10:13], device_id[13], device_id[14:]
    if counties is not None and centre[:6] not in counties:
        raise DeviceIdError(device_id, "centre code",
                            f"{centre[:6]} is not this county ({', '.join(sorted(counties))})")
    if industry not in INDUSTRY:
        raise DeviceIdError(device_id, "industry", f"{industry} is not an industry code")
    if type_code not in TYPES:
        raise DeviceIdError(device_id, "type", f"{type_code} is not a device type code")
    if network not in NETWORKS:
        raise DeviceIdError(device_id, "network", f"{network} is not a network code (0-8)")
    return DeviceId(device_id, centre, centre[:6], centre[6:], industry, type_code, network,
                    serial)
