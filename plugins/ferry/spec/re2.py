"""Whether DuckDB's regular expressions (RE2) accept a pattern, decided at load without DuckDB.

Python's re parser reads the structure (groups, repeats, classes) and the tree is walked for
what RE2 lacks: backreferences, lookarounds, atomic groups, possessive repeats, conditionals
and repeat counts over 1000. A pass over the text first handles what the two spell
differently: RE2's \\p{Greek}, \\z, \\x{41} and octal \\12, which Python refuses, and
Python's \\Z, \\u00e9, (?#...), (?x) and [\\b], which RE2 refuses. Each rule was checked
against DuckDB's regexp_matches (tests/unit/spec/test_re2.py).
"""

from __future__ import annotations

import re
import warnings
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser

from ferry.exceptions import Terminal

MAX_REPEAT = 1000  # RE2's kMaxRepeat: also the product of nested counted repeats
# \p{...} names RE2 (as built into DuckDB) knows: general categories and scripts
_UNICODE_NAMES = """Any C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi
    Po Ps S Sc Sk Sm So Z Zl Zp Zs Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese
    Bamum Bassa_Vah Batak Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid
    Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common
    Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra
    Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha
    Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew
    Hiragana Imperial_Aramaic Inherited Inscriptional_Pahlavi Inscriptional_Parthian Javanese
    Kaithi Kannada Katakana Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki
    Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar
    Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui
    Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean
    Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki
    Old_Hungarian Old_Italic Old_North_Arabian Old_Permic Old_Persian Old_Sogdian
    Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene
    Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada
    Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri
    Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana
    Thai Tibetan Tifinagh Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi
    Zanabazar_Square"""
UNICODE_CLASSES = frozenset(_UNICODE_NAMES.split())
_POSIX_NAMES = "alnum alpha ascii blank cntrl digit graph lower print punct space upper word xdigit"
POSIX_CLASSES = frozenset(_POSIX_NAMES.split())
_ESCAPES = "aftnrvdDsSwWx"  # letters RE2 and Python read alike, in a class or not
_ESCAPES_OUTSIDE = "bBA"  # and outside a class only
_FLAGS = re.compile(r"([imsU]*)(?:-([imsU]+))?([):])")
_COUNTED = re.compile(r"\{[0-9]+(,[0-9]*)?\}")
# A class inside [...] (\d, \pL, [:alpha:]) is one placeholder character for Python, which
# refuses [\d-z]; RE2 reads its '-' as text, and refuses [a-\d] as Python does [a-\x00].
_CLASS_ITEM = "\\x00"
_NOT_RE2 = "not supported by the warehouse's regular expressions (RE2)"


class _Refused(ValueError, Terminal):
    """A construct RE2 does not accept; the message says which (never leaves this module)."""


def re2_problem(pattern: str) -> str | None:
    """Why RE2 would refuse the pattern, or None when it accepts it."""
    try:
        with warnings.catch_warnings():  # "possible nested set" for [[:alpha:]]
            warnings.simplefilter("ignore")
            tree = _parser.parse(_for_python(pattern))
        _walk(tree, MAX_REPEAT)
    except _Refused as refused:
        return str(refused)
    except re.error as error:
        return f"not a valid regular expression: {error}"
    except RecursionError:
        return "not a valid regular expression: nested too deeply"
    return None


def _walk(items, budget: int) -> None:
    """Refuse what RE2 lacks; budget: what nested counted repeats may still multiply to."""
    for op, value in items:
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, item = value
            count = low if high == sre.MAXREPEAT else high
            if low > MAX_REPEAT or (high != sre.MAXREPEAT and high > MAX_REPEAT):
                raise _Refused(f"a repeat count over {MAX_REPEAT} is {_NOT_RE2}")
            inner = budget // count if count > 0 else budget
            if inner == 0:
                problem = f"nested repeat counts multiplying to over {MAX_REPEAT} are {_NOT_RE2}"
                raise _Refused(problem)
            _walk(item, inner)
        elif op in (sre.POSSESSIVE_REPEAT, sre.ATOMIC_GROUP):
            raise _Refused(f"possessive repeats and atomic groups are {_NOT_RE2}")
        elif op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
            raise _Refused(f"backreferences and conditionals are {_NOT_RE2}")
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            raise _Refused(f"lookarounds are {_NOT_RE2}")
        elif op == sre.SUBPATTERN:
            _walk(value[-1], budget)
        elif op == sre.BRANCH:
            for branch in value[1]:
                _walk(branch, budget)


def _for_python(pattern: str) -> str:
    """The pattern spelled for Python's parser, refusing what only Python accepts."""
    out: list[str] = []
    index, in_class, class_start, expect_atom = 0, False, 0, True
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            text, index = _escape(pattern, index + 1, in_class)
        elif in_class:
            text, index, in_class = _class_part(pattern, index, class_start)
        elif char == "[":
            class_start = index + 2 if pattern.startswith("^", index + 1) else index + 1
            text, index, in_class = pattern[index:class_start], class_start, True
        elif char == "(" and pattern.startswith("?", index + 1):
            text, index = _group(pattern, index + 2)
        elif expect_atom and (char in "*+?" or _COUNTED.match(pattern, index)):
            raise _Refused(f"'{char}' has nothing before it to repeat")
        elif char == "{" and pattern.startswith(",", index + 1):
            text, index = "\\{", index + 1  # RE2 reads {,n} as text, Python as a repeat
        else:
            text, index = char, index + 1
        expect_atom = (text in ("", "|") or text.startswith("(")) and not in_class
        out.append(text)
    return "".join(out)


def _class_part(pattern: str, index: int, class_start: int) -> tuple[str, int, bool]:
    """One character of a [...] class (or a whole [:alpha:]); the class ends at ']'."""
    char = pattern[index]
    if char == "]" and index > class_start:
        return char, index + 1, False
    if char == "[" and pattern.startswith(":", index + 1):
        end = pattern.find(":]", index + 2)
        name = pattern[index + 2 : end].removeprefix("^") if end > 0 else ""
        if name not in POSIX_CLASSES:
            raise _Refused(
                f"unknown class [:{name}:]; use one of {', '.join(sorted(POSIX_CLASSES))}"
            )
        return _CLASS_ITEM, end + 2, True
    return char, index + 1, True


def _escape(pattern: str, index: int, in_class: bool) -> tuple[str, int]:
    """The escape at pattern[index] (after the backslash), for Python, and where it ends."""
    if index >= len(pattern):
        raise _Refused("not a valid regular expression: it ends with a lone backslash")
    char = pattern[index]
    if char in "pP":
        text, after = _unicode_class(pattern, index + 1)
        return (_CLASS_ITEM if in_class else text), after
    if in_class and char in "dDsSwW":
        return _CLASS_ITEM, index + 1
    if char == "x" and pattern.startswith("{", index + 1):
        return _hex(pattern, index + 2)
    if char.isdigit():
        return _digit_escape(pattern, index)
    if not in_class and char in "QCz":
        return _outside_escape(pattern, index)
    if not char.isascii():
        raise _Refused(f"\\{char} is not an escape RE2 knows; remove the backslash")
    if not char.isalnum() or char in _ESCAPES or (not in_class and char in _ESCAPES_OUTSIDE):
        return "\\" + char, index + 1
    advice = {
        "Z": "; use \\z for the end of the text",
        "u": "; write the character itself or \\x{...}",
        "U": "; write the character itself or \\x{...}",
    }
    where = " inside [...]" if in_class else ""
    raise _Refused(f"\\{char}{where} is not an escape RE2 knows{advice.get(char, '')}")


def _outside_escape(pattern: str, index: int) -> tuple[str, int]:
    char = pattern[index]
    if char == "z":
        return "\\Z", index + 1  # the end of the text, spelled \Z in Python
    if char == "C":
        return ".", index + 1  # any byte
    end = pattern.find("\\E", index + 1)  # \Q...\E quotes; without \E, to the end
    end = len(pattern) if end < 0 else end
    return re.escape(pattern[index + 1 : end]), min(end + 2, len(pattern))


def _unicode_class(pattern: str, index: int) -> tuple[str, int]:
    """\\pL, \\p{Greek}, \\p{^Greek}: a known name; Python reads a class of its own."""
    if pattern.startswith("{", index):
        end = pattern.find("}", index)
        name, after = (pattern[index + 1 : end], end + 1) if end > 0 else ("", len(pattern))
    else:
        name, after = pattern[index : index + 1], index + 1
    if name.removeprefix("^") not in UNICODE_CLASSES:
        raise _Refused(f"unknown Unicode class \\p{{{name}}}; e.g. \\p{{L}} or \\p{{Greek}}")
    return "\\w", after


def _hex(pattern: str, index: int) -> tuple[str, int]:
    end = pattern.find("}", index)
    digits = pattern[index:end] if end > 0 else ""
    if not re.fullmatch("[0-9a-fA-F]{1,8}", digits) or int(digits, 16) > 0x10FFFF:
        raise _Refused("\\x{...} needs a code point in hex, at most 10FFFF")
    return f"\\U{int(digits, 16):08x}", end + 1


def _digit_escape(pattern: str, index: int) -> tuple[str, int]:
    """\\0, \\012, \\12: octal in RE2; \\1 alone would be a backreference, which RE2 lacks."""
    digits = re.match("[0-7]{1,3}", pattern[index:])
    if pattern[index] == "0" or (digits and len(digits.group()) > 1):
        return f"\\U{int(digits.group(), 8):08x}", index + len(digits.group())
    raise _Refused(f"backreferences (\\{pattern[index]}) are {_NOT_RE2}")


def _group(pattern: str, index: int) -> tuple[str, int]:
    """A (? group opening (index after the ?): its Python spelling, or why RE2 refuses it."""
    rest = pattern[index : index + 3]
    if rest.startswith("P<"):
        return "(?P<", index + 2
    refused = {"P=": "backreferences", "=": "lookarounds", "!": "lookarounds",
               "<=": "lookarounds", "<!": "lookarounds", ">": "atomic groups",
               "(": "conditionals", "#": "comments (?#...)"}  # fmt: skip
    for start, what in refused.items():
        if rest.startswith(start):
            raise _Refused(f"{what} are {_NOT_RE2}")
    flags = _FLAGS.match(pattern, index)
    if not flags:
        raise _Refused(f"(?{pattern[index : index + 1]} is {_NOT_RE2}; the flags are i, m, s and U")
    # flags change no structure: (?i) is dropped, (?i:...) is a plain group for Python
    return ("" if flags.group(3) == ")" else "(?:"), flags.end()
