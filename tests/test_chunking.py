from citechat.ingest.chunking import SentenceChunkParser, group_chunks, split_sentences
from citechat.ingest.loading import Article, load_articles

from conftest import ARTICLES


def texts(text):
    return [text[s.start:s.end] for s in split_sentences(text)]


def test_english_without_space_after_period():
    t = "Liu Sheng and Vanderfan presented flags on the spot.At the beginning of the year, work began."
    assert texts(t) == ["Liu Sheng and Vanderfan presented flags on the spot.",
                        "At the beginning of the year, work began."]


def test_abbreviations_decimals_and_initials_do_not_split():
    t = "Mr. Smith paid 3.5 million yuan to Jinan Co., Ltd. in the U.S. last year. J. Doe agreed."
    assert texts(t) == ["Mr. Smith paid 3.5 million yuan to Jinan Co., Ltd. in the U.S. last year.", "J. Doe agreed."]


def test_chinese_sentences():
    t = "歷城區舉行表彰大會。會議由區委書記主持！你來了嗎？好"
    assert texts(t) == ["歷城區舉行表彰大會。", "會議由區委書記主持！", "你來了嗎？", "好"]


def test_a_chinese_sentence_is_one_unit_with_its_number_and_subject():
    t = "歷城區便民服務中心設有綜合受理區，設置134個全領域無差別受理窗口，實現一窗通辦。另一句。"
    assert texts(t)[0] == "歷城區便民服務中心設有綜合受理區，設置134個全領域無差別受理窗口，實現一窗通辦。"


def test_run_on_chinese_sentences_are_capped_at_clauses():
    clause = "歷城區團結帶領全區各級黨組織和廣大黨員干部群眾抓產業"
    t = "，".join([clause] * 20) + "。"
    parts = texts(t)
    assert len(parts) > 1
    assert all(len(p) <= 240 for p in parts)
    assert "".join(parts) == t


def test_offsets_are_exact_on_the_shipped_articles():
    arts, _ = load_articles([ARTICLES])
    for a in arts:
        spans = split_sentences(a.text)
        assert spans
        prev_end = 0
        for s in spans:
            assert 0 <= s.start < s.end <= len(a.text)
            assert s.start >= prev_end
            assert a.text[s.start:s.end].strip() == a.text[s.start:s.end]
            prev_end = s.end
        covered = "".join(a.text[s.start:s.end] for s in spans)
        assert "".join(covered.split()) == "".join(a.text.split())


def test_chunks_are_small_groups_of_sentences():
    spans = split_sentences("One. Two. Three. Four. Five. Six. Seven.")
    chunks = group_chunks(spans, max_sentences=3, max_chars=600)
    assert chunks == [[0, 1, 2], [3, 4, 5], [6]]


def test_node_parser_keeps_offsets_and_chunk_metadata():
    a = Article(source="x.txt", text="First sentence here.Second one follows. Third is last.", title="t")
    nodes = SentenceChunkParser(max_sentences_per_chunk=2).article_nodes(a)
    assert [n.get_content() for n in nodes] == ["First sentence here.", "Second one follows.", "Third is last."]
    for n in nodes:
        m = n.metadata
        assert a.text[m["start"]:m["end"]] == n.get_content()
        assert m["chunk_start"] <= m["start"] < m["end"] <= m["chunk_end"]
    assert [n.metadata["chunk"] for n in nodes] == [0, 0, 1]
