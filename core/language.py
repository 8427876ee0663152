"""Which language an event is in, so it is scored by the model that reads it.

A producer may say (``lang`` in the raw event: ``zh``, ``zh-CN``, ``zh-Hant``, ``en-US`` ... are read as their
primary tag); otherwise the text decides by script: the share of CJK ideographs among its letters. A text with a
fifth of its letters CJK is Chinese (financial Chinese is full of Latin tickers and codes, ``600519.SH``, ``A股``,
so the bar is low); a text of Latin letters is English (the desk's other language). Anything else (Cyrillic,
Arabic, only digits and emoji) is ``und``, undetermined, and is scored by the English model, the documented
fallback; its ``lang`` says so, so a dashboard can count and filter such events.
"""

from __future__ import annotations

__all__ = ["CJK_SHARE", "FALLBACK", "LANGS", "detect_lang", "is_cjk", "model_lang", "resolve_lang"]

LANGS = ("en", "zh")
FALLBACK = "und"  # neither language: scored by the English model
CJK_SHARE = 0.2
_ALIASES = {"cn": "zh", "chi": "zh", "zho": "zh", "eng": "en"}


def is_cjk(c: str) -> bool:
    """A CJK ideograph (the unified blocks and their extensions, compatibility ideographs).

    >>> is_cjk("茅"), is_cjk("A"), is_cjk("，")
    (True, False, False)
    """
    o = ord(c)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2EBEF or 0xF900 <= o <= 0xFAFF


def detect_lang(text: str, *, sample: int = 2000) -> str:
    """``zh``, ``en`` or ``und`` by script, reading at most ``sample`` characters.

    >>> detect_lang("贵州茅台(600519.SH)股价大跌"), detect_lang("Acme sues Globex over unpaid loans")
    ('zh', 'en')
    >>> detect_lang("Сбербанк снизил ставку"), detect_lang("12345 !!!")
    ('und', 'und')
    """
    cjk = latin = other = 0
    for c in text[:sample]:
        if is_cjk(c):
            cjk += 1
        elif c.isascii() and c.isalpha():
            latin += 1
        elif c.isalpha():
            other += 1
    letters = cjk + latin + other
    if not letters:
        return FALLBACK
    if cjk >= CJK_SHARE * letters:
        return "zh"
    if latin >= 0.5 * letters:
        return "en"
    return FALLBACK


def resolve_lang(declared: str | None, text: str) -> str:
    """The producer's ``lang`` when it names one of ours (its primary subtag), else what the text shows.

    A declared language that is neither stays what it is (``fr``: scored by the fallback model, and said so).

    >>> resolve_lang("zh-Hant", "x"), resolve_lang("EN_us", "文本"), resolve_lang("fr", "Acme")
    ('zh', 'en', 'fr')
    >>> resolve_lang(None, "银行")
    'zh'
    >>> resolve_lang("??", "Acme")  # not a language tag: the text decides
    'en'
    """
    if declared:
        primary = declared.strip().lower().replace("_", "-").split("-", 1)[0]
        primary = _ALIASES.get(primary, primary)
        if primary in LANGS or (2 <= len(primary) <= 3 and primary.isascii() and primary.isalpha()):
            return primary
    return detect_lang(text)


def model_lang(lang: str) -> str:
    """The language of the model that scores an event of ``lang``: ours, or English as the fallback.

    >>> model_lang("zh"), model_lang("fr"), model_lang("und")
    ('zh', 'en', 'en')
    """
    return lang if lang in LANGS else "en"
