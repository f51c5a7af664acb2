from urllib.parse import parse_qs

from explorer import permalinks


def test_link_names_the_tab_first_and_round_trips_its_inputs():
    query = permalinks.link("attention", text="台湾大学 & <b>", layer=3, head=None)
    assert query.startswith("?tab=attention&")
    assert parse_qs(query[1:]) == {"tab": ["attention"], "text": ["台湾大学 & <b>"], "layer": ["3"]}
