"""What reviewing a candidate needs, apart from the pages (``server/review/`` is the staff's
blueprint, which imports this package; nothing here imports a page): who may review
(``access``), blind review (``blind_review``) and the candidates' numbers it shows
(``numbers``), the theory
answers' reading and scores (``theory_scores``), per-point marking (``marking``), decisions
(``decisions``), re-grades (``regrades``), and a report's page parts rendered once and
stored (``fragments``, ``stored``)."""
