"""Language identification for Arabic-script feedback: ar, fa, mixed, other, and the languages around them.

Arabic and Persian share a script, so the script alone says little. Persian
has letters Arabic lacks (پ چ ژ گ and its own ی/ک), Arabic has ة and ى and
its own ي/ك, and each has frequent function words; a character n-gram naive
Bayes model trained on the sample corpus weighs all of these at once (its
char_wb n-grams include single letters and short words). Latin-script text
(English, Arabizi, Finglish) and text without letters are ``other``; text
mostly in another script (Cyrillic, CJK, ...) is ``unsupported``. A text
whose sentences are confidently Arabic and confidently Persian is ``mixed``.

Other languages written in Arabic script (Urdu, Sorani and Kurmanji Kurdish,
Pashto, Sindhi, Uyghur, Balochi) get their own codes before the model is asked:
each has letters Arabic and Persian never use (ٹ ڈ ڑ ں ے / ێ ۆ ڵ ڕ ە /
ټ ډ ړ ښ ږ ځ څ ې ۍ / ۈ ۇ ڭ ۋ ...) and frequent function words, and
:func:`other_arabic_script` counts the words that carry them. Sada analyses
none of them (:func:`unsupported_detail` says why). Latin-script Arabic
(Arabizi, ``ar-Latn``) and Persian (Finglish, ``fa-Latn``) are told from
English by their words and digit-letters (``3ala``, ``7elw``), see :func:`romanised`.

Example:
    >>> identifier = LanguageIdentifier.train(
    ...     ["الخدمة ممتازة جدا", "التوصيل كان متأخرا", "خیلی عالی بود", "پشتیبانی جواب نمی‌دهد"],
    ...     ["ar", "ar", "fa", "fa"])
    >>> identifier("الطلب وصل متأخر").language
    'ar'
    >>> identifier("سفارش دیر رسید").language
    'fa'
    >>> identifier("great service 👍").language
    'other'
    >>> identifier("ڈیلیوری بہت دیر سے ہوئی").language, identifier("peyk kheili dir resid").language
    ('ur', 'fa-Latn')
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import MultinomialNB

from sada.pipeline.corpus import load_feedback
from sada.pipeline.errors import CorpusError, ModelNotFoundError

__all__ = ["DEFAULT_MODEL_DIR", "LANGUAGES", "OTHER_ARABIC_SCRIPT", "ROMANISED", "LanguageGuess", "LanguageIdentifier",
           "default_identifier", "other_arabic_script", "romanised", "script_of", "train_on_corpus",
           "unsupported_detail"]

logger = logging.getLogger(__name__)

#: Latin-script Arabic (Arabizi) and Persian (Finglish): analysed, and counted under their own codes.
ROMANISED = ("ar-Latn", "fa-Latn")
#: The languages of analysed items (the run summary's and the report's ``languages`` keys).
LANGUAGES = ("ar", "fa", "mixed", "other", *ROMANISED)
#: Arabic-script languages that are identified but not analysed (quarantined ``unsupported_language``).
OTHER_ARABIC_SCRIPT: dict[str, str] = {
    "ur": "Urdu", "ckb": "Sorani Kurdish", "kmr": "Kurmanji Kurdish", "ps": "Pashto", "sd": "Sindhi",
    "ug": "Uyghur", "bal": "Balochi",
}

_SEGMENTS = re.compile(r"[.!?؟\n،,;؛]+")
_NOT_ARABIC_LETTER = re.compile(r"[^\u0621-\u063a\u0641-\u064a\u066e-\u06d3\u06fa-\u06ff\s]+")
#: URLs, e-mail addresses and @mentions carry Latin letters that say nothing about the writer's language.
_NOT_LANGUAGE = re.compile(r"(?i)(?:https?://|www\.)\S+|\S+@\S+\.\S+|@\w+|\[(?:URL|EMAIL|PHONE|CARD|IBAN|NATIONAL_ID)\]")
#: Laughter (ههههه, خخخخ) is written alike in Arabic and Persian; elongation (جمييييل) repeats one letter.
_HASHTAG = re.compile(r"#\w+")
_LAUGHTER = re.compile(r"\b(?:ه{2,}|(?:ها){2,}|خ{3,}|ع{3,})\b")
_ELONGATION = re.compile(r"(.)\1{2,}")
NGRAM_RANGE = (1, 4)
_MIXED_MIN_LETTERS = 15
_MIXED_MIN_CONFIDENCE = 0.99


def _letters_only(text: str) -> str:
    """Arabic-script letters and spaces: URLs, mentions, punctuation, digits, Latin and laughter say nothing here.

    Example:
        >>> _letters_only("جمييييييل ههههههه @ali_88 https://t.co/x1")
        'جميل'
    """
    text = _LAUGHTER.sub(" ", _NOT_LANGUAGE.sub(" ", text))
    text = _ELONGATION.sub(r"\1", _NOT_ARABIC_LETTER.sub(" ", text))
    return " ".join(text.split())


def script_of(text: str) -> str:
    """The dominant script of ``text``: arabic, latin, none or other.

    URLs, e-mail addresses, @mentions and hashtags are left out first
    (hashtags count only when the text has no other letters).

    Example:
        >>> script_of("سلام hello world"), script_of("😍👍 123"), script_of("Привет")
        ('latin', 'none', 'other')
        >>> script_of("محد صاح @someone https://t.co/AbCdEfGh #MannequinChallenge"), script_of("#خدمة_سيئة")
        ('arabic', 'arabic')
    """
    return _dominant_script(_letter_counts(text))


def _dominant_script(counts: tuple[int, int, int]) -> str:
    if counts == (0, 0, 0):
        return "none"
    arabic, latin, other = counts
    best = max(counts)
    return "arabic" if arabic == best else "latin" if latin == best else "other"


def _letter_counts(text: str) -> tuple[int, int, int]:
    """Arabic-script, Latin and other letters, after URLs, e-mails, mentions and (if others remain) hashtags."""
    text = _NOT_LANGUAGE.sub(" ", text)
    without_tags = _HASHTAG.sub(" ", text)
    if any(ch.isalpha() for ch in without_tags):
        text = without_tags
    arabic = latin = other = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f" or "\ufb50" <= ch <= "\ufefc":
            arabic += 1
        elif ch.isascii() or unicodedata.name(ch, "").startswith("LATIN"):
            latin += 1
        else:
            other += 1
    return arabic, latin, other


#: A Latin-majority text with at least this many Arabic-script letters, and this share of its letters,
#: is Arabic or Persian quoting product names ("إيجابيات و سلبيات Sandisk Cruzer Blade").
_MIN_ARABIC_LETTERS = 8
_MIN_ARABIC_SHARE = 0.25


def _writes_arabic_script(counts: tuple[int, int, int]) -> bool:
    """Whether the writer's own words are in Arabic script (the dominant script, or enough of it).

    Example:
        >>> [_writes_arabic_script(_letter_counts(t)) for t in ("- إيجابيات و سلبيات Sandisk Cruzer", "great app شكرا")]
        [True, False]
    """
    arabic, latin, other = counts
    if arabic and arabic >= max(latin, other):
        return True
    return arabic >= _MIN_ARABIC_LETTERS and arabic >= _MIN_ARABIC_SHARE * (arabic + latin + other)


# ---------------------------------------------------------------- other Arabic-script languages

#: Per language: letters Arabic and Persian never use, counted when a word holds one ("strong"; also ئە, a
#: hamza seat before Kurdish and Uyghur ە, which Persian never writes), and letters that also turn up in Arabic
#: or Persian typing (ھ ہ ے for heh and yeh, ە on a Kurdish keyboard, Uyghur's ى: "weak", they only add to
#: strong evidence). Letters shared between these languages (ٹ ڈ ڑ: Urdu and Balochi; ێ ۆ: Sorani and
#: Kurmanji; ې: Pashto and Uyghur) count for each; function words and the weak letters then decide.
_OTHER_LETTERS: dict[str, tuple[str, str]] = {
    "ur": ("ٹڈڑںۓ", "ےہھ"),
    "ps": ("ټډړښږځڅۍګڼې", ""),
    "ckb": ("ێۆڵڕ", "ەھ"),
    "kmr": ("ێۆڤ", "ەھ"),
    "sd": ("ٻڄڃڇڊڌڍڏڙڦڱڳڻٺٽٿڀڪ۾۽", "ھ"),
    "bal": ("ٹڈڑںۓ", "ےہھ"),
    "ug": ("ۈۇڭۋېۆ", "ەھى"),
}
_HAMZA_E = {"ckb", "kmr", "ug"}
_OTHER_STRONG = {code: re.compile(f"[{strong}]" + ("|ئە" if code in _HAMZA_E else ""))
                 for code, (strong, _) in _OTHER_LETTERS.items()}
_OTHER_WEAK = {code: re.compile(f"[{weak}]") for code, (_, weak) in _OTHER_LETTERS.items() if weak}
#: Function words that Arabic and Persian do not write the same way (Persian که, نه, هم, از are left out,
#: and so are Sorani بە / کە, which Persian typed on a Kurdish keyboard also gives).
_OTHER_WORDS: dict[str, frozenset[str]] = {code: frozenset(words.split()) for code, words in {
    "ur": "ہے ہیں ہوا ہوئی ہوئے کا کے میں نہیں نہ سے تھا تھی تھے بہت بھی نے یہ وہ رہا رہی رہے اور "
          "هے هیں هوا هوئی نهیں تها تهی تهے بهت بهی",
    "ps": "د په ډېر ډیر یې چې کې مې زما ستاسو زه خپل موږ مونږ تاسو هغه دی وو څه هېڅ کړ وکړ کوي شوی شوې",
    "ckb": "زۆر لە نییە نیە ئەم ئەو ئەوە ئەمە بەڵام لەگەڵ دەکات ناکات هەیە ئێمە ئێوە تۆ بۆ چونکە یان",
    "kmr": "گەلەک ژ ل د ب ئەڤ ئەڤە ڤێ ڤان ئەز هەوە مە تە دێ کو بەلێ دگەل هاتە ژی",
    "sd": "آهي آهن جو جي جا ۾ ۽ کي ڏاڍو ڏاڍي سان مون اسان توهان منهنجو هئي ٿيو",
    "bal": "ء انت ات منی تئی شمئی گوں بوتگ بوتگاں",
    "ug": "ۋە بەك بىلەن ئەمەس بۇ ئىكەن ناھايىتى مەن بىز لېكىن",
}.items()}
#: Ties go to the more common language (Urdu before Balochi, Sorani before Kurmanji, Pashto before Uyghur).
_OTHER_ORDER = ("ur", "ps", "ckb", "kmr", "sd", "bal", "ug")
#: Enough words with evidence: at least two (one in a one-word text) and this share of the words.
_OTHER_MIN_SHARE = 0.2
#: Arabic spelling none of these languages uses (teh marbuta, hamza on alef or waw): a decorated Arabic tweet
#: with a ګ in three words is still Arabic when more of its words are spelt this way.
_ARABIC_SPELLING = re.compile("[ةأإؤ]")
_DIACRITICS = re.compile("[\u0640\u064b-\u065f\u0670\u200c\u200d]")  # tatweel, harakat, superscript alef, joiners
_ARABIC_WORD = re.compile("[\u0621-\u063a\u0641-\u064a\u066e-\u06d5\u06fa-\u06ff\u0750-\u077f]+")


def _arabic_script_words(text: str) -> list[str]:
    """The Arabic-script words of ``text`` (diacritics and joiners dropped), without URLs, mentions or laughter.

    Example:
        >>> _arabic_script_words("منی آرڈر نہ رسِتگ @user_1 ههههه")
        ['منی', 'آرڈر', 'نہ', 'رستگ']
    """
    text = _LAUGHTER.sub(" ", _NOT_LANGUAGE.sub(" ", text))
    return _ARABIC_WORD.findall(_DIACRITICS.sub("", text))


def other_arabic_script(text: str) -> tuple[str, float] | None:
    """The Arabic-script language other than Arabic or Persian that ``text`` is written in, if any.

    Each language counts its words holding one of its own letters or being one of its function
    words; the language with the most such words (then function words, then words with its weak letters) wins
    when at least one word holds a letter Arabic and Persian lack, and enough words have evidence.
    Returns the code and the share of the text's words with evidence.

    Example:
        >>> other_arabic_script("گەیاندن زۆر دواکەوت و خواردنەکە سارد بوو")
        ('ckb', 0.57)
        >>> other_arabic_script("خواړه ډېر ناوخته راورسېدل"), other_arabic_script("سفارش دیر رسید")
        (('ps', 0.75), None)
        >>> other_arabic_script("وهل خيركم من يقتل فيے حرب")  # a decorative ے in Arabic is not Urdu
    """
    words = _arabic_script_words(text)
    if not words:
        return None
    best: tuple[int, int, int, int] | None = None
    choice = ""
    for rank, code in enumerate(_OTHER_ORDER):
        strong_re, weak_re, function_words = _OTHER_STRONG[code], _OTHER_WEAK.get(code), _OTHER_WORDS[code]
        lettered = [strong_re.search(w) is not None for w in words]
        weakly = [weak_re is not None and weak_re.search(w) is not None for w in words]
        if not any(lettered) and not any(weakly):
            continue  # function words alone, in words Arabic or Persian also spell, are not enough
        strong = sum(1 for w, s in zip(words, lettered) if s or w in function_words)
        weak = sum(1 for w, s, k in zip(words, lettered, weakly) if k and not s and w not in function_words)
        key = (strong, sum(1 for w in words if w in function_words), weak, -rank)
        if strong and (best is None or key > best):
            best, choice = key, code
    if best is None:
        return None
    evidence = best[0] + best[2]
    if (evidence < min(2, len(words)) or evidence < _OTHER_MIN_SHARE * len(words)
            or evidence <= sum(1 for w in words if _ARABIC_SPELLING.search(w))):
        return None
    return choice, round(min(1.0, evidence / len(words)), 2)


def unsupported_detail(language: str) -> str | None:
    """Why items in ``language`` are not analysed (the quarantine detail), or ``None`` when they are.

    Example:
        >>> unsupported_detail("ur")
        'Urdu (ur): an Arabic-script language Sada identifies but does not analyse (only Arabic and Persian)'
        >>> unsupported_detail("ar-Latn") is None, unsupported_detail("unsupported")[:23]
        (True, 'the text is mostly in a')
    """
    if language in OTHER_ARABIC_SCRIPT:
        return (f"{OTHER_ARABIC_SCRIPT[language]} ({language}): an Arabic-script language Sada identifies but does "
                "not analyse (only Arabic and Persian)")
    if language == "unsupported":
        return "the text is mostly in a script other than Arabic or Latin"
    return None


# ---------------------------------------------------------------- Arabizi and Finglish

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Arabizi words (Egyptian, Levantine, Gulf, Maghrebi chat spellings) that English does not use.
_ARABIZI_WORDS = _words(
    "el w wa ana enta enti inta inti ehna e7na howa heya homa mesh msh mish mush mafi mafish mafeesh mafesh "
    "la2 aywa aiwa ya3ni yani wallah wallahi walla inshallah mashallah habibi shukran shokran shokrn mashkoor "
    "mashkoreen kteer ktir kter ktiir awi awy gedan gdan geddan jedan jiddan jidan leh leish lesh laysh keda kida "
    "kda kaman kman lsa lissa lesa lessa fel fil mn 3ala 3la 3al 3an ba3d ba2a tayeb tayyeb kwayes kwayyes "
    "kwais helw helwa 7elw 7elwa zein zain zeen wayed wajed momtaz momtaza mumtaz mumtaza zift akl akel talab "
    "talabt talabat tawseel tawsil tawsel sawa2 mandoob mandub wesel wasal wasalt ta2akhar t2akhar mot2akher "
    "moteakhar mit2akhar bared barid ghali ghalya ghalia rakhees flous floos fulus shu shou sh7al kif keef "
    "kefak ezzay ezay izzay yalla khalas tab3an kan kanet kanit bas bss lel lil bta3 beta3 3ashan 3shan "
    "mesh3aref ma3 ma3ah sa3a sa3teen kol shwaya shwaia mara marra tany tani tanya khedma khidma 5edma 7aga "
    "haga ba2et mafto7a gali tele3 tala3 mo7taram ya abadan")
#: Finglish words (Persian in Latin letters) that English does not use.
_FINGLISH_WORDS = _words(
    "kheili kheyli khayli khili khaili kheily khoob khub khoub khob khube khoobe bood bud boodam boodim "
    "nabood nabud hast hastam hastim nist nistam ast resid residan naresid nareside naresideh miad nemiad "
    "nayoomade nayomade oomad oomade umad zood sefaresh sefareshe sefaresham sefareshamo ghaza ghazaa ghazash "
    "ghazaye peyk paik peik peyke poshtibani barname barnameh mamnoon mamnun mamnoonam mersi merc lotfan "
    "vali chera cheghadr cheqadr inghadr hamishe aslan asan ghalat sard garm bi aali aalie maze mazeh "
    "khoshmaze bimaze gerun geroon gheymat ghimat gheymatash takhfif pool hesab hesabam nemide nemidam "
    "nemikone nemishe mishe mikone mide midam kard karde shod shode nashod konid kon montazer montazeram "
    "dobare hatman hich hichi chon ke ro az ba dar va shoma ina oon khosh akhlagh nemitoonam vared sham "
    "moondam boodam dade javab kond kam ziad ziade hazine ersal kafi bedoone dalili bastebandi tamiz "
    "joojeh khamir nadasht ta hala nakhorde hanooz hanuz dige dirooz salam baste razi raazi "
    "moshkel ghabz karmozd sorat zaeif zaeife darid konam begid khoban jensesh dir inja oonja unja nadare monaseb monasebe harf sakht sakhte bod bodam nabod awli khyli khaily kheyly mrc mrci mesle hame hamash vaghan vaghean vaqan vaqean tashakor tashakkor omidvaram slm mmnon mamnon")
#: English function words: a Latin text with as many of these as romanised words stays ``other``.
_ENGLISH_WORDS = _words(
    "the a an and but or is are was were be been being to of in on at for with my your our their his her its "
    "i you he she it we they me us them this that these those not no very so too have has had do does did "
    "will would can could should from by as just after before again still there here all what why how when "
    "who which if than then about into over out up down")
#: Arabizi writes ء ع خ ط ح غ ق ص as 2 3 5 6 7 8 9 inside words: 3ala, 7elw, ba3d, ta2akhar, ma3.
_ARABIZI_DIGITS = re.compile(r"(?=[a-z0-9]*[aeiou])(?:[a-z]+[235789][a-z]+|[2357][a-z]{2,}|[a-z]{2,3}[379])")
_LATIN_TOKEN = re.compile(r"[a-z0-9']+")
_ROMANISED_MIN_WORDS = 2
_ROMANISED_MIN_SHARE = 0.2  # of the words: an Italian review with four "al" in 195 words is not Arabizi


def romanised(text: str) -> str | None:
    """``ar-Latn`` (Arabizi), ``fa-Latn`` (Finglish) or ``None`` for a Latin-script text.

    At least two words of one of them (one in a one-word text) and a fifth of the words, more than
    of the other, and more than English function words; a tie is left ``None`` (``other``).

    Example:
        >>> romanised("el delivery kan moteakhar gedan"), romanised("peyk kheili dir resid")
        ('ar-Latn', 'fa-Latn')
        >>> romanised("the delivery was late"), romanised("El servicio fue muy lento")
        (None, None)
    """
    tokens = _LATIN_TOKEN.findall(_HASHTAG.sub(" ", _NOT_LANGUAGE.sub(" ", text)).lower())
    words = [t.strip("'") for t in tokens if any(c.isalpha() for c in t)]
    if not words:
        return None
    arabizi = sum(1 for w in words if w in _ARABIZI_WORDS or _ARABIZI_DIGITS.fullmatch(w))
    finglish = sum(1 for w in words if w in _FINGLISH_WORDS)
    english = sum(1 for w in words if w in _ENGLISH_WORDS)
    best = max(arabizi, finglish)
    if (arabizi == finglish or best < min(_ROMANISED_MIN_WORDS, len(words)) or best <= english
            or best < _ROMANISED_MIN_SHARE * len(words)):
        return None
    return "ar-Latn" if arabizi > finglish else "fa-Latn"


@dataclass(frozen=True)
class LanguageGuess:
    """A language (ar, fa, mixed, other or unsupported) and the model's confidence."""

    language: str
    confidence: float
    script: str


class LanguageIdentifier:
    """Character n-gram naive Bayes over Arabic-script text, with script rules around it.

    Build it with :meth:`train`, load a saved one with :meth:`from_pretrained`
    (:func:`default_identifier` loads the one shipped in ``pipeline/language_id``),
    and call it on texts.

    Args:
        ngrams: The character n-grams (the vectorizer's vocabulary), in column order.
        classes: The languages, in row order of ``log_probs``.
        log_probs: log P(n-gram | language), one row per class.
    """

    def __init__(self, ngrams: Sequence[str], classes: Sequence[str], log_probs: np.ndarray) -> None:
        self._vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, lowercase=False,
                                           vocabulary=list(ngrams))
        self._classes = list(classes)
        self._log_probs = np.asarray(log_probs, dtype=np.float64)

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], alpha: float = 0.1) -> LanguageIdentifier:
        """Fit on Arabic-script texts labelled ``ar`` or ``fa`` (other rows are ignored)."""
        pairs = [(t, y) for t, y in zip(texts, labels) if y in ("ar", "fa") and script_of(t) == "arabic"]
        if {y for _, y in pairs} != {"ar", "fa"}:
            raise CorpusError("language ID needs Arabic-script training texts labelled both 'ar' and 'fa', found "
                              f"{sorted({y for _, y in pairs})}")
        vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, lowercase=False, min_df=1)
        features = vectorizer.fit_transform([_letters_only(t) for t, _ in pairs])
        model = MultinomialNB(alpha=alpha, fit_prior=False).fit(features, [y for _, y in pairs])
        return cls(vectorizer.get_feature_names_out().tolist(), [str(c) for c in model.classes_],
                   model.feature_log_prob_)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> LanguageIdentifier:
        """Load an identifier saved by :meth:`save_pretrained`.

        Raises:
            ModelNotFoundError: the folder or one of its files is missing.
        """
        directory = Path(directory)
        files = [directory / name for name in ("config.json", "vocab.json", "weights.safetensors")]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ModelNotFoundError(f"expected a language-ID model in {directory}, missing {missing}; rebuild "
                                     "it with `python -m sada.pipeline.language --corpus-dir corpus --out DIR`")
        config = json.loads(files[0].read_text(encoding="utf-8"))
        ngrams = json.loads(files[1].read_text(encoding="utf-8"))
        return cls(ngrams, config["classes"], load_file(str(files[2]))["log_probs"])

    def save_pretrained(self, directory: str | Path, trained_on: dict[str, int] | None = None) -> None:
        """Write ``config.json``, ``vocab.json`` and ``weights.safetensors`` (no pickle) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {"model": "character n-gram multinomial naive Bayes (uniform prior)", "classes": self._classes,
                  "analyzer": "char_wb", "ngram_range": list(NGRAM_RANGE), "features": len(self._ngrams),
                  "input": "Arabic-script letters only (sada.pipeline.language._letters_only)",
                  "trained_on": trained_on or {}}
        (directory / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")
        (directory / "vocab.json").write_text(json.dumps(self._ngrams, ensure_ascii=False) + "\n", encoding="utf-8")
        save_file({"log_probs": np.ascontiguousarray(self._log_probs)}, str(directory / "weights.safetensors"))

    @property
    def _ngrams(self) -> list[str]:
        return list(self._vectorizer.vocabulary)

    def __call__(self, text: str) -> LanguageGuess:
        return self.predict([text])[0]

    def predict(self, texts: Sequence[str]) -> list[LanguageGuess]:
        """Guess the language of many texts at once."""
        guesses: list[LanguageGuess | None] = [None] * len(texts)
        arabic_idx = []
        for i, text in enumerate(texts):
            counts = _letter_counts(text)  # once per text: both rules read the same counts
            script = "arabic" if _writes_arabic_script(counts) else _dominant_script(counts)
            if script == "arabic":
                found = other_arabic_script(text)
                if found is None:
                    arabic_idx.append(i)
                else:
                    guesses[i] = LanguageGuess(found[0], found[1], script)
            elif script == "other":
                guesses[i] = LanguageGuess("unsupported", 1.0, script)
            else:
                language = romanised(text) if script == "latin" else None
                guesses[i] = LanguageGuess(language or "other", 1.0, script)
        if arabic_idx:
            probs = self._probabilities([texts[i] for i in arabic_idx])
            mixed = self._mixed([texts[i] for i in arabic_idx])
            for i, row, is_mixed in zip(arabic_idx, probs, mixed):
                best = int(np.argmax(row))
                language = "mixed" if is_mixed else str(self._classes[best])
                guesses[i] = LanguageGuess(language, float(row[best]), "arabic")
        return guesses  # type: ignore[return-value]

    def _probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """P(language | text) under the naive Bayes model with a uniform prior."""
        counts = self._vectorizer.transform([_letters_only(t) for t in texts])
        joint = np.asarray(counts @ self._log_probs.T)
        joint -= joint.max(axis=1, keepdims=True)
        probs = np.exp(joint)
        return probs / probs.sum(axis=1, keepdims=True)

    def _mixed(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text has a confidently Arabic and a confidently Persian sentence (one model call)."""
        owners, segments = [], []
        for n, text in enumerate(texts):
            parts = [s for s in _SEGMENTS.split(text) if len(_letters_only(s).replace(" ", "")) >= _MIXED_MIN_LETTERS]
            if len(parts) >= 2:
                owners.extend([n] * len(parts))
                segments.extend(parts)
        found: dict[int, set[str]] = {}
        if segments:
            for n, p in zip(owners, self._probabilities(segments)):
                if p.max() >= _MIXED_MIN_CONFIDENCE:
                    found.setdefault(n, set()).add(str(self._classes[int(np.argmax(p))]))
        return [found.get(n) == {"ar", "fa"} for n in range(len(texts))]


#: The identifier shipped with Sada, trained on the sample corpus
#: (rebuild: ``python -m sada.pipeline.language --corpus-dir corpus``).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "language_id"


@lru_cache(maxsize=4)
def default_identifier(model_dir: Path | None = None) -> LanguageIdentifier:
    """The shipped identifier (or the one saved in ``model_dir``), loaded once per process."""
    return LanguageIdentifier.from_pretrained(model_dir or DEFAULT_MODEL_DIR)


def train_on_corpus(corpus_dir: Path) -> tuple[LanguageIdentifier, dict[str, int]]:
    """An identifier trained on the texts of the corpus in ``corpus_dir``, and how many texts per language it saw.

    Raises:
        sada.pipeline.errors.CorpusError: No folder was given, or its ``feedback.csv`` is missing.
    """
    frame = load_feedback(corpus_dir)
    logger.info("training language ID on %d corpus texts", len(frame))
    counts = {str(k): int(v) for k, v in frame["language"].value_counts().sort_index().items()}
    return LanguageIdentifier.train(frame["text"].tolist(), frame["language"].tolist()), counts


def main(argv: Sequence[str] | None = None) -> None:
    """Rebuild the shipped language-ID model from a corpus (the sample corpus: ``--corpus-dir corpus``)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR, help="Folder to write the model into.")
    parser.add_argument("--corpus-dir", type=Path, required=True,
                        help="Corpus folder to train on (the sample corpus: corpus/ of the checkout).")
    args = parser.parse_args(argv)
    identifier, counts = train_on_corpus(args.corpus_dir)
    identifier.save_pretrained(args.out, trained_on={f"corpus/feedback.csv ({k})": v for k, v in counts.items()})
    print(f"wrote {args.out} ({len(identifier._ngrams)} n-grams)")


if __name__ == "__main__":
    main()
