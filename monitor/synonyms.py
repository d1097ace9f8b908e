"""Shipped synonym groups for common Korean news vocabulary, and merging with the config's.

A group is a list of spellings that mean the same thing; a rule term equal to any member
also finds every other member. Users extend groups in the config's `[synonyms]` table
(a key naming an existing group adds to it) or turn the shipped ones off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words of a data block."""
    return tuple(text.split())


# Vocabulary groups: clipped compounds, English acronyms and full official names.
_VOCABULARY: dict[str, tuple[str, ...]] = {
    "전기차": ("전기차", "전기자동차", "EV"),
    "수소차": ("수소차", "수소자동차", "수소전기차", "FCEV"),
    "자율주행차": ("자율주행차", "자율주행자동차", "자율차"),
    "미래차": ("미래차", "미래자동차", "미래형자동차", "미래모빌리티"),
    "친환경차": ("친환경차", "친환경자동차"),
    "인공지능": ("인공지능", "AI", "에이아이"),
    "반도체": ("반도체", "semiconductor"),
    "이차전지": ("이차전지", "2차전지"),
    "지자체": ("지자체", "지방자치단체", "지방정부"),
    "국토부": ("국토부", "국토교통부"),
    "산업부": ("산업부", "산업통상자원부"),
    "과기정통부": ("과기정통부", "과학기술정보통신부", "과기부"),
    "기재부": ("기재부", "기획재정부"),
    "행안부": ("행안부", "행정안전부"),
    "중기부": ("중기부", "중소벤처기업부"),
    "환경부": ("환경부",),
    "고용부": ("고용부", "고용노동부", "노동부"),
    "복지부": ("복지부", "보건복지부"),
    "농식품부": ("농식품부", "농림축산식품부"),
    "해수부": ("해수부", "해양수산부"),
    "한전": ("한전", "한국전력", "한국전력공사"),
    "LH": ("LH", "한국토지주택공사", "토지주택공사"),
    "코레일": ("코레일", "한국철도", "한국철도공사"),
}

# Metropolitan cities and provinces with their official and short names.
_REGIONS: dict[str, tuple[str, ...]] = {
    "서울": ("서울", "서울시", "서울특별시"),
    "부산": ("부산", "부산시", "부산광역시"),
    "대구": ("대구", "대구시", "대구광역시"),
    "인천": ("인천", "인천시", "인천광역시"),
    "대전": ("대전", "대전시", "대전광역시"),
    "울산": ("울산", "울산시", "울산광역시"),
    "세종": ("세종", "세종시", "세종특별자치시"),
    "광주광역시": ("광주광역시",),  # 광주 alone is also a city in Gyeonggi: not merged
    "강원": ("강원", "강원도", "강원특별자치도"),
    "충북": ("충북", "충청북도"),
    "충남": ("충남", "충청남도"),
    "전북": ("전북", "전라북도", "전북특별자치도"),
    "전남": ("전남", "전라남도"),
    "경북": ("경북", "경상북도"),
    "경남": ("경남", "경상남도"),
    "제주": ("제주", "제주도", "제주특별자치도"),
    "경기도": ("경기도",),  # 경기 alone means "the economy" or "a match": not merged
}

# Cities (시) and counties (군) whose bare name is not an everyday word. The group only adds
# the bare form to a rule that writes `X시`, so a name that is also a common word would make
# that rule fire on unrelated stories; these are left out on purpose (the word in brackets):
# 광주 (two cities), 화성 (Mars), 경주 (race), 양산 (mass production), 전주 (last week),
# 진주 (pearl), 구미 (appetite), 오산 (miscalculation), 이천 (2,000), 양주 (whisky),
# 고양 (cat), 공주 (princess), 상주 (mourner), 영주 (lord), 사천 (Sichuan), 동해 (East Sea),
# 구리 (copper), 강화 (strengthen), 달성 (achieve), 기장 (captain), 거창 (grand),
# 함양 (cultivate), 장성 (general), 완주 (finish), 고성 음성 예산 영광 장수 진도 강진 고령
# 영양 인제 보성 금산 성주 화순 청도 정선 의성 영동 부안 함평 구례 무안 양구 단양 옥천 보은
# 증평 신안 완도 곡성 하동 남해 청양 예천.
_CITIES = _words(
    """
    수원 성남 용인 부천 안산 안양 남양주 평택 의정부 시흥 파주 광명 김포 군포
    안성 포천 의왕 하남 여주 동두천 과천 춘천 원주 강릉 태백 속초 삼척 청주
    충주 제천 천안 보령 아산 서산 논산 계룡 당진 군산 익산 정읍 남원 김제 목포
    여수 순천 나주 광양 포항 김천 안동 영천 문경 경산 창원 통영 김해 밀양 거제
    서귀포
    """
)
_COUNTIES = _words(
    """
    가평 양평 연천 홍천 횡성 영월 평창 철원 화천 양양 진천 괴산 서천 홍성 태안
    진안 무주 임실 순창 고창 담양 고흥 장흥 해남 영암 군위 청송 영덕 칠곡 봉화
    울진 울릉 의령 함안 창녕 산청 합천 울주 옹진
    """
)


def _local_governments() -> dict[str, tuple[str, ...]]:
    """평택 = 평택시, 가평 = 가평군, so a rule may name either form."""
    groups: dict[str, tuple[str, ...]] = {name: (name, name + "시") for name in _CITIES}
    groups.update({name: (name, name + "군") for name in _COUNTIES})
    return groups


def default_groups() -> dict[str, tuple[str, ...]]:
    """The shipped synonym groups, keyed by a representative spelling."""
    return {**_VOCABULARY, **_REGIONS, **_local_governments()}


def merge_groups(
    user: Mapping[str, Sequence[str]] | None, with_defaults: bool = True
) -> dict[str, tuple[str, ...]]:
    """Shipped groups (unless turned off) extended by the user's; a shared key adds members."""
    merged: dict[str, tuple[str, ...]] = dict(default_groups()) if with_defaults else {}
    for key, members in (user or {}).items():
        old = merged.get(key, ())
        merged[key] = tuple(dict.fromkeys((*old, key, *members)))
    return merged
