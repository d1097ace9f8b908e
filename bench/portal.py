"""Generate a realistic Korean local-news portal on disk for the pipeline benchmark."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

KST = timezone(timedelta(hours=9))
PLACES = [
    "평택시",
    "화성시",
    "오산시",
    "안성시",
    "수원시",
    "용인시",
    "천안시",
    "아산시",
    "당진시",
    "평택항",
]
TOPICS = [
    ("미래자동차", "부품 기업", "클러스터"),
    ("전기차", "충전소", "보급 사업"),
    ("반도체", "공장 증설", "협력업체"),
    ("자율주행", "실증단지", "시범 운행"),
    ("도시재생", "전통시장", "청년몰"),
    ("교육", "도서관", "독서 프로그램"),
    ("복지", "어르신", "돌봄 서비스"),
    ("교통", "버스 노선", "환승 체계"),
    ("환경", "하천 정비", "미세먼지"),
    ("문화", "축제", "공연"),
]
SUBJECTS = [
    "시 관계자는",
    "업계 관계자는",
    "지역 주민들은",
    "전문가들은",
    "시의회는",
    "도 관계자는",
]
VERBS = [
    "밝혔다", "설명했다", "강조했다", "전망했다", "덧붙였다", "말했다", "기대했다", "우려했다",
]  # fmt: skip
_BODIES_SEEN: dict[int, str] = {}  # body of article i-1, for the copy at i
MENU = ["정치", "경제", "사회", "문화", "스포츠", "오피니언", "포토", "영상", "지역", "기획"]


@dataclass(frozen=True)
class Portal:
    """Where the generated portal lives and what it holds."""

    root: Path
    articles: int
    feeds: int
    items: int


NOUNS = [
    "기업", "주민", "학생", "청년", "어르신", "소상공인", "농가", "상인", "공무원", "연구원",
    "시민단체", "협의회", "위원회", "조합", "재단", "센터", "학교", "병원", "항만", "공단",
    "예산", "사업비", "보조금", "일자리", "인력", "부지", "시설", "도로", "노선", "정책",
    "조례", "계획안", "설명회", "공청회", "간담회", "협약", "공모", "실증", "인증", "점검",
]  # fmt: skip
ADJUNCTS = [
    "올해 하반기부터", "다음 달까지", "지난주", "연말까지", "내년 초", "이달 중순", "상반기 안에",
    "단계적으로", "시범적으로", "우선", "본격적으로", "처음으로", "추가로", "대폭", "꾸준히",
]  # fmt: skip
ACTIONS = [
    "확대한다", "추진한다", "마련했다", "발표했다", "검토하고 있다", "시작했다", "늘리기로 했다",
    "지원하기로 했다", "개선할 방침이다", "점검에 나섰다", "공개했다", "운영한다", "선정했다",
]  # fmt: skip


def _sentence(rng: random.Random, place: str, topic: tuple[str, str, str]) -> str:
    """One plausible news sentence, composed word by word so articles do not share long runs."""
    a, b, c = topic
    words = [rng.choice([place, f"{place}와 {rng.choice(PLACES)}", rng.choice(SUBJECTS)])]
    for _ in range(rng.randint(2, 5)):
        noun = rng.choice([*NOUNS, a, b, c])
        words.append(f"{noun}{rng.choice(['', '의', '와', '을', '에', '에서', '들이'])}")
        if rng.random() < 0.4:
            words.append(rng.choice(ADJUNCTS))
        if rng.random() < 0.3:
            words.append(f"{rng.randint(2, 9800):,}{rng.choice(['억원', '명', '곳', '건', '개'])}")
    words.append(rng.choice(ACTIONS))
    sentence = " ".join(words)
    if rng.random() < 0.3:
        sentence = f'{rng.choice(SUBJECTS)} "{sentence}"고 {rng.choice(VERBS)}'
    return sentence.rstrip(".") + "."


def _article_html(rng: random.Random, i: int, host: str, size: int) -> tuple[str, str, datetime]:
    """An article page with menus, sidebars, widgets and scripts around the story."""
    place = PLACES[i % len(PLACES)]
    topic = TOPICS[(i // 3) % len(TOPICS)]
    title = f"{place}, {topic[0]} {topic[2]} 본격 추진…{topic[1]} 지원 확대 ({i})"
    published = datetime(2024, 9, 1, 8, 0, tzinfo=KST) + timedelta(minutes=7 * i)
    if i % 10 == 9 and i in _BODIES_SEEN:
        # Every tenth article is a syndicated copy of the previous one: new dateline, same text.
        paragraphs = f"<p>[{place}=경기남부일보] 홍길동 기자 = </p>" + _BODIES_SEEN[i]
    else:
        paragraphs = "\n".join(
            f"<p>{_sentence(rng, place, topic)} {_sentence(rng, place, topic)}</p>"
            for _ in range(rng.randint(6, 14))
        )
        _BODIES_SEEN[i + 1] = paragraphs
    menu = "".join(
        f'<li><a href="/news/articleList.html?sc_section_code=S1N{k}&view_type=sm">{m}</a></li>'
        for k, m in enumerate(MENU * 4)
    )
    popular = "".join(
        f'<li><a href="/news/articleView.html?idxno={rng.randint(1, 99999)}">'
        f"{rng.choice(PLACES)} {rng.choice(TOPICS)[0]} 관련 많이 본 뉴스 {k}</a></li>"
        for k in range(10)
    )
    head = f"""<!doctype html><html lang="ko"><head><meta charset="utf-8">
<title>{title} - 경기남부일보</title>
<meta property="og:title" content="{title}">
<meta property="og:url" content="http://{host}/news/articleView-{i}.html">
<meta property="article:published_time" content="{published.isoformat()}">
<link rel="canonical" href="http://{host}/news/articleView-{i}.html">
<style>{"".join(f".c{k}{{margin:{k}px;padding:{k % 7}px;color:#{k:06x}}}" for k in range(120))}</style>
</head><body>
<div id="header"><div class="util"><a href="/member/login.html">로그인</a> <a href="/member/join.html">회원가입</a></div>
<ul id="gnb">{menu}</ul>
<div class="weather">오늘의 날씨 {published:%Y.%m.%d} 평택 23℃ 맑음</div></div>
<div id="container"><div id="article">
<h1 class="heading">{title}</h1>
<div class="info"><span>홍길동 기자</span> <span>입력 {published:%Y.%m.%d %H:%M}</span></div>
<div class="share"><a href="#">공유하기</a> <a href="#">페이스북</a> <a href="#">카카오톡</a></div>
<div id="article-view-content-div">
{paragraphs}
<figure><img src="/photo/{i}.jpg"><figcaption>{place} 전경. /경기남부일보 DB</figcaption></figure>
</div>
<div class="reporter">홍길동 기자 hong@example.kr 기자의 다른 기사</div>
<div class="related"><h3>관련기사</h3><ul>{popular[:600]}</ul></div>
</div>
<aside class="side"><h3>많이 본 뉴스</h3><ol>{popular}</ol>
<h3>포토뉴스</h3><ul>{popular}</ul></aside></div>
<div id="footer">경기남부일보 | 등록번호 경기 아00000 | 발행인 홍길동 | Copyright 경기남부일보. All rights reserved.</div>
"""
    # Real portals carry tens of kilobytes of inline ad and tracking scripts.
    script = "<script>var ad_slots = [" + ",".join(
        f'{{"id":"slot{k}","w":{rng.randint(100, 999)},"h":{rng.randint(50, 600)}}}'
        for k in range(2000)
    )
    have = len((head + script).encode())
    pad = ',{"id":"pad%09d","k":"%.12f"}'
    count = max(0, (size - have - 40) // len(pad % (0, 0.5)))
    filler = "".join(pad % (rng.randint(0, 10**9 - 1), rng.random()) for _ in range(count))
    return head + script + filler + "];</script></body></html>", title, published


def generate(root: Path, host: str, articles: int = 2000, feeds: int = 20, seed: int = 7) -> Portal:
    """Write article pages (60-120 KB) and feeds (articles/feeds items each) under root."""
    rng = random.Random(seed)
    (root / "news").mkdir(parents=True, exist_ok=True)
    (root / "rss").mkdir(parents=True, exist_ok=True)
    meta = []
    for i in range(articles):
        html, title, published = _article_html(rng, i, host, rng.randint(60_000, 120_000))
        (root / "news" / f"articleView-{i}.html").write_text(html, encoding="utf-8")
        meta.append((i, title, published))
    per = max(1, articles // feeds)
    for f in range(feeds):
        items = "".join(
            f"<item><title>{t}</title><link>http://{host}/news/articleView-{i}.html</link>"
            f"<guid>http://{host}/news/articleView-{i}.html</guid>"
            f"<pubDate>{format_datetime(p)}</pubDate><description>{t}</description></item>"
            for i, t, p in meta[f * per : (f + 1) * per]
        )
        feed = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>경기남부일보 섹션 {f}</title><link>http://{host}/</link>{items}</channel></rss>"
        )
        (root / "rss" / f"feed-{f}.xml").write_text(feed, encoding="utf-8")
    return Portal(root, articles, feeds, per)


def generate_small_feeds(root: Path, host: str, count: int, articles: int, items: int = 5) -> None:
    """Write many small feeds whose items point at already generated article pages."""
    (root / "small").mkdir(parents=True, exist_ok=True)
    for f in range(count):
        entries = "".join(
            f"<item><title>소식 {f}-{k}</title>"
            f"<link>http://{host}/news/articleView-{(f * items + k) % articles}.html</link></item>"
            for k in range(items)
        )
        (root / "small" / f"feed-{f}.xml").write_text(
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>s{f}</title>'
            f"{entries}</channel></rss>",
            encoding="utf-8",
        )
