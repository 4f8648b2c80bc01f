"""The citizen ID check a move_in goes through, until the `load` helper's backend.people.idcheck
lands: then this module only re-exports theirs (the merge points `check_citizen_id` at it).
Python-stdnum's pieces (format, ISO 7064 MOD 11-2 check digit, birth date) plus the sex digit;
not `ric.validate` whole: its region list (stdnum 2.2) lacks Anhui's current codes, 341324 泗县
among them. The GB/T 2260 region list with its provenance is idcheck's."""

from __future__ import annotations

from datetime import date

from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

try:  # the load helper's checker, once merged: one check for loads and the field
    from backend.people.idcheck import check_id  # type: ignore[attr-defined]

    def check_citizen_id(value: str, sex: str) -> tuple[str, str] | None:
        problem = check_id(value, sex)
        return None if problem is None else (problem.check, problem.reason)
except ImportError:

    def check_citizen_id(value: str, sex: str) -> tuple[str, str] | None:  # type: ignore[misc]
        """None when the ID is valid for a person of `sex` (男/女); else (check_failed, reason)
        with check_failed one of backend.people.models.CHECKS."""
        number = ric.compact(value)
        if len(number) != 18 or not number[:17].isdigit():
            return "format", "an ID has 18 characters: 17 digits and a digit or X"
        if number[-1] != ric.calc_check_digit(number):
            return "check_digit", "the last character does not match (ISO 7064 MOD 11-2): " \
                                  "check the digits"
        try:
            born = ric.get_birth_date(number)
        except InvalidComponent:
            return "birth_date", "the birth date in the ID (characters 7-14) is not a real date"
        if born > date.today():
            return "birth_date", "the birth date in the ID is in the future"
        odd = int(number[16]) % 2 == 1
        if odd != (sex == "男"):
            return "sex", f"the ID's 17th digit is {'odd (男)' if odd else 'even (女)'}, " \
                          f"the sex given is {sex}"
        return None
