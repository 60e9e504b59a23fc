"""Roles in who-questions and name aliases, on text written here (no shipped article involved)."""

from citechat.names import Alias, Role, RoleIndex, asked_roles, find_aliases, full_names, roles_named

ARTICLE = (
    "Grain harvest meeting held in Dongshan\n\n"
    "Provincial party secretary jian-guo he and the governor xiao-mei ding attended and spoke.\n"
    "He Jianguo and Ding Xiaomei then visited the seed laboratory.\n"
    "Later, Ding xiaomei met farmers. Peng Li, director of the seed laboratory, gave a report."
)


def test_roles_of_person_questions():
    assert asked_roles("Who is the mayor of Dongshan?") == [Role("mayor", "dongshan", True)]
    assert asked_roles("Who are the party secretary and the governor who attended?") == [
        Role("secretary"), Role("governor")]
    assert asked_roles("What is the director of the seed laboratory called?") == [Role("director", "laboratory")]
    assert asked_roles("Who is Dongshan's party secretary?") == [Role("secretary", "dongshan", True)]
    assert asked_roles("Who chaired the meeting?") == []  # no role noun
    assert asked_roles("Who heads the seed laboratory?") == []  # a verb here
    assert asked_roles("Who will judge the contest?") == []
    assert asked_roles("When did the mayor who visited Dongshan arrive?") == []  # not a person question


def test_a_sentence_must_name_the_role_and_its_organisation():
    governor = asked_roles("Who is the governor?")
    assert roles_named(governor, "the governor xiao-mei ding attended")
    assert not roles_named(governor, "Peng Li, director of the seed laboratory, gave a report.")
    # translations often render a specific title generically ("district head" for the mayor)
    assert roles_named(asked_roles("Who is the mayor of Dongshan?"), "Li Wei, head of Dongshan, spoke.")
    # ...but the organisation must be the one asked about
    assert not roles_named(asked_roles("Who is the president of the Dongshan court?"), "Li Wei, head of Dongshan.")
    assert roles_named(asked_roles("Who is the head of the seed laboratory?"),
                       "Peng Li, director of the seed laboratory")
    both = asked_roles("Who are the party secretary and the governor?")
    assert not roles_named(both, "Provincial party secretary jian-guo he attended.")


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


def test_role_index_links_people_to_roles_stated_elsewhere():
    spans, pos = [], 0
    for line in ARTICLE.split("\n"):
        for part in line.split(". "):
            if part.strip():
                start = ARTICLE.index(part, pos)
                spans.append((start, start + len(part)))
                pos = start + len(part)
    index = RoleIndex(ARTICLE, spans)
    visit = "He Jianguo and Ding Xiaomei then visited the seed laboratory."
    assert {"secretary", "governor"} <= index.held(visit)
    governor = asked_roles("Who was the governor who visited the seed laboratory?")
    assert not roles_named(governor, visit)
    assert roles_named(governor, visit, held=index.held(visit))
    a, b = index.where(governor, visit, ARTICLE.index(visit))
    assert "the governor xiao-mei ding" in ARTICLE[a:b]
    assert index.where(asked_roles("Who was the judge who visited?"), visit, 0) is None


def test_chinese_sentences_need_the_chinese_title():
    secretary = asked_roles("Who is the party secretary of Dongshan?")
    assert roles_named(secretary, "東山區委書記張明出席會議")
    assert not roles_named(secretary, "東山區區長張明出席會議")  # a mayor, not the secretary
    assert not roles_named(secretary, "西河區委書記張明出席會議")  # a named organisation is checked via pinyin
    assert roles_named(asked_roles("Who is the head of Dongshan?"), "東山區區長張明出席會議")
    director = asked_roles("Who is the director of the Dongshan library?")
    assert roles_named(director, "館長王麗華表示")
    assert not roles_named(director, "引進名師、名校長")  # no generic equivalence in Chinese


def test_a_named_organisation_may_be_named_elsewhere_in_the_article():
    mayor = asked_roles("Who is the mayor of Dongshan?")
    assert not roles_named(mayor, "The mayor Li Wei spoke.")
    assert roles_named(mayor, "The mayor Li Wei spoke.", article_tokens={"dongshan", "mayor"})
    court = asked_roles("Who is the president of the Dongshan court?")  # "court" is not a name
    assert not roles_named(court, "The president Li Wei spoke.", article_tokens={"court"})
