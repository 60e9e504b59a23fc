"""Name aliases, on text written here (no shipped article involved)."""

from citechat.names import Alias, find_aliases, full_names

ARTICLE = (
    "Grain harvest meeting held in Dongshan\n\n"
    "Provincial party secretary jian-guo he and the governor xiao-mei ding attended and spoke.\n"
    "He Jianguo and Ding Xiaomei then visited the seed laboratory.\n"
    "Later, Ding xiaomei met farmers. Peng Li, director of the seed laboratory, gave a report."
)


def test_full_names_are_romanised_chinese_names():
    names = full_names(ARTICLE)
    assert {"He Jianguo", "Ding Xiaomei"} <= names
    assert "Grain harvest" not in names and "Dongshan" not in " ".join(names)


def test_split_and_reordered_names_link_to_their_full_form():
    sentence = "Provincial party secretary jian-guo he and the governor xiao-mei ding attended and spoke."
    assert find_aliases(sentence, ARTICLE) == [Alias("jian-guo he", "He Jianguo"), Alias("xiao-mei ding", "Ding Xiaomei")]
    # a name written in full, in any case, is not an alias
    assert find_aliases("Later, Ding xiaomei met farmers.", ARTICLE) == []
    assert find_aliases("He Jianguo and Ding Xiaomei then visited the seed laboratory.", ARTICLE) == []
    # nothing links without a full name in the article
    assert find_aliases(sentence, "An article that names nobody in full.") == []
