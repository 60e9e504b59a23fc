"""A reproducible, offline generator of distractor news articles for scale benchmarks.

The articles read like the real ones (district meetings, officials, projects, numbers, dates; some in traditional
Chinese, some naming the real districts) so retrieval gets harder, not easier. Every sentence that contains any
answer string of the given question sets is dropped, so the distractors never hold a dev answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

GENERATOR_VERSION = 3

SURNAMES = ("Wang Zhang Chen Yang Zhao Huang Zhou Wu Xu Sun Ma Zhu Hu Guo He Lin Gao Luo Zheng Liang Xie Song Tang "
            "Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang Yu Du Ye Cheng Wei Su Lu Ding Ren Shen "
            "Yao Jin Qiu Tan").split()
GIVEN = ("Wei Min Jing Lei Yan Jun Hua Ping Gang Hong Xin Bo Tao Ming Chao Hui Ling Yun Kai Rui Jie Hao Xiang Dan "
         "Ning Zhen Qing Peng Yong Bin Hai Lin Dong Yi Xue Mei Li Na Ke Shan Bao Quan Guang Rong Zhi").split()
DISTRICTS = ("Hexi Nanhu Beicheng Dongshan Xiyuan Qingshui Baiyun Jinshui Longgang Shuangliu Huaiyin Tianqiao "
             "Zhangdian Gaoxin Binjiang Xinhua Changqing Huangdao Jimo Pingyin Shanghe Laiwu Gangcheng Zhangqiu "
             "Qihe Yucheng Wendeng Rushan Penglai Haiyang").split()
ROLES = [
    "secretary of the District Party Committee", "head of the district", "deputy secretary of the Municipal Party "
    "Committee", "director of the Development and Reform Bureau", "mayor", "vice mayor", "chairman of the District "
    "CPPCC", "director of the Standing Committee of the District People's Congress", "director of the enterprise "
    "service center", "secretary of the Party Working Committee of the sub-district",
]
EVENTS = [
    "held a meeting on tackling difficulties in key projects", "inspected the construction site of the {project}",
    "presided over a symposium on {topic}", "presented awards to {n} outstanding units",
    "visited {n} enterprises in the area", "signed agreements for {n} major projects",
    "attended the on-site office meeting of the city's key projects", "listened to a report on {topic}",
    "called for faster progress on the {project}", "met representatives of {n} private companies",
]
PROJECTS = ["new energy vehicle plant", "metro line extension", "logistics park", "river restoration project",
            "science and technology innovation center", "port expansion", "industrial belt", "hospital building",
            "smart manufacturing base", "talent apartment complex", "standardized factory buildings", "data center"]
TOPICS = ["investment promotion", "urban renewal", "epidemic prevention and economic development", "rural revitalization",
          "grassroots governance", "the business environment", "ecological protection", "people's livelihood services"]
MONTHS = "January February March April May June July August September October November December".split()
OUTLETS = ["Evening News", "Daily", "Times", "News Network", "Morning Post"]
ZH_DISTRICTS = ["河西", "南湖", "天橋", "槐蔭", "長清", "章丘", "濟陽", "萊蕪", "鋼城", "平陰", "商河", "高新"]
ZH_EVENTS = ["舉行重點項目推進會", "召開優化營商環境大會", "開展安全生產大檢查", "舉辦招商引資簽約儀式",
             "推進城市更新行動", "表彰優秀基層黨組織"]


@dataclass
class GeneratedArticle:
    name: str
    text: str


class DistractorGenerator:
    def __init__(self, seed: int = 7, exclude: Iterable[str] = ()) -> None:
        self.rng = random.Random(seed)
        self.exclude = [e.lower() for e in exclude if e]
        self.dropped = 0

    def _name(self) -> str:
        r = self.rng
        return f"{r.choice(SURNAMES)} {r.choice(GIVEN)}{r.choice(GIVEN).lower() if r.random() < 0.6 else ''}"

    def _place(self, real_ok: bool = False) -> str:
        # Real place names are not used: a distractor must not state a second, different fact about a real
        # place ("Wu Tao, head of the district, said that Luohu ..."), only compete for the same words.
        return self.rng.choice(DISTRICTS)

    def _number(self) -> str:
        r = self.rng
        n = r.choice([r.randint(3, 99), r.randint(101, 999), r.randint(1, 99) * 1000 + r.randint(1, 999)])
        return f"{n:,}"

    def _event(self) -> str:
        return self.rng.choice(EVENTS).format(project=self.rng.choice(PROJECTS), topic=self.rng.choice(TOPICS),
                                              n=self._number())

    def _english_sentence(self, place: str) -> str:
        r = self.rng
        t = r.randrange(8)
        if t == 0:
            return f"{self._name()}, {r.choice(ROLES)} of {place}, {self._event()}."
        if t == 1:
            return f"On {r.choice(MONTHS)} {r.randint(1, 28)}, {place} District {self._event()}."
        if t == 2:
            return (f"The {r.choice(PROJECTS)} in {place} will complete {self._number()} square meters of "
                    f"{r.choice(['industrial land transfer', 'rundown building renovation', 'new roads', 'green space'])} this year.")
        if t == 3:
            return f"{place} District has connected with {self._number()} enterprises and sorted out {self._number()} questions."
        if t == 4:
            return f"{self._name()} and {self._name()} {self._event()}."
        if t == 5:
            return f"The {r.choice(PROJECTS)} is expected to be completed by the end of {r.choice(MONTHS)}."
        if t == 6:
            return (f"Taking the opportunity of the {r.choice(TOPICS).title()} Year, {self._place(True)} has set up "
                    "special service teams.").replace("the The ", "the ")
        return f"{self._name()}, {r.choice(ROLES)}, said that {self._place(True)} will focus on {r.choice(TOPICS)}."

    def _chinese_sentence(self, place: str) -> str:
        r = self.rng
        return f"{r.randint(1, 12)}月{r.randint(1, 28)}日上午,{place}區{r.choice(ZH_EVENTS)},投資{r.randint(2, 90)}億元。"

    def _keep(self, sentence: str) -> bool:
        low = sentence.lower()
        if any(e in low for e in self.exclude):
            self.dropped += 1
            return False
        return True

    def article(self, i: int, sentences: int) -> GeneratedArticle:
        zh = self.rng.random() < 0.05
        place = self.rng.choice(ZH_DISTRICTS) if zh else self._place()
        title = (f"{place}區推進高質量發展" if zh else
                 f"{place} steps up {self.rng.choice(TOPICS)} with {self.rng.choice(PROJECTS)}")
        body: list[str] = []
        while len(body) < sentences:
            s = self._chinese_sentence(place) if zh else self._english_sentence(place)
            if self._keep(s):
                body.append(s)
        outlet = f"Source: {place} {self.rng.choice(OUTLETS)}"
        paras = [" ".join(body[k: k + 5]) for k in range(0, len(body), 5)]
        text = "\n\n".join([title, *paras] + ([outlet] if self._keep(outlet) else []))
        return GeneratedArticle(name=f"distractor_{i:06d}.txt", text=text)

    def articles(self, total_sentences: int, per_article: int = 25) -> list[GeneratedArticle]:
        out, made, i = [], 0, 0
        while made < total_sentences:
            n = min(per_article, total_sentences - made)
            out.append(self.article(i, n))
            made += n + 2  # title and outlet lines are sentences too
            i += 1
        return out


def write_corpus(folder: Path, total_sentences: int, exclude: Iterable[str], seed: int = 7) -> int:
    """Write distractor articles into `folder`; returns how many files were written."""
    folder.mkdir(parents=True, exist_ok=True)
    gen = DistractorGenerator(seed=seed, exclude=exclude)
    arts = gen.articles(total_sentences)
    for a in arts:
        (folder / a.name).write_text(a.text, encoding="utf-8")
    return len(arts)
