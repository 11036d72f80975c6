"""The Evolution Lab's engine: the outer genetic algorithm over any arena's gene spec.

``settings.py`` (what a run is), ``landscapes.py`` (fitness), ``selection.py`` (parents and
offspring), ``hall_of_fame.py`` (admission), ``diversity.py`` (diversity figure and colours) and
``population.py`` (the generation loop, checkpoint and resume).
"""
