"""Reports as documents: a model of sections and blocks (:mod:`.document`), the sections
of the run report (:mod:`.sections`, :mod:`.cost_sections`), the tables and plots both
reports share (:mod:`.tables`, :mod:`.plots`), and one writer per format
(:mod:`.markdown`, :mod:`.html_page`)."""
