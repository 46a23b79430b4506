"""Spoken question answering from templates: a sentence states facts (a person, place, number, colour,
time...), a question asks for one of them, and the answer is taken from the sentence itself.

    >>> import random
    >>> fact = spoken_fact(random.Random(3))
    >>> fact.sentence, fact.question, fact.answer   # e.g. ("The van parked outside is red.",
    ...                                             #       "What colour is the van?", "red")
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from soundwave.synth.text import fill_slots


@dataclass(frozen=True)
class FactTemplate:
    """A fact sentence with `{slot}`s and the questions it answers: (question, answer) templates."""

    sentence: str
    questions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SpokenFact:
    """One drawn fact: the sentence to speak, a question about it and its answer."""

    sentence: str
    question: str
    answer: str
    template: int  # index into FACTS, for stratified analysis


FACTS = (
    FactTemplate(
        "{name} lives in {city}.",
        (
            ("Where does {name} live?", "{city}"),
            ("Who lives in {city}?", "{name}"),
            ("Which city does {name} live in?", "{city}"),
        ),
    ),
    FactTemplate(
        "The {vehicle} parked outside is {colour}.",
        (
            ("What colour is the {vehicle}?", "{colour}"),
            ("Which vehicle is parked outside?", "the {vehicle}"),
            ("What colour is the {vehicle} parked outside?", "{colour}"),
        ),
    ),
    FactTemplate(
        "{name} has {number} {animals}.",
        (
            ("How many {animals} does {name} have?", "{number}"),
            ("What animals does {name} have?", "{animals}"),
            ("Who has {number} {animals}?", "{name}"),
        ),
    ),
    FactTemplate(
        "The meeting with {name} starts at {clock} on {weekday}.",
        (
            ("What time does the meeting start?", "{clock}"),
            ("On which day is the meeting?", "{weekday}"),
            ("Who is the meeting with?", "{name}"),
            ("When does the meeting start?", "at {clock} on {weekday}"),
        ),
    ),
    FactTemplate(
        "{name} works as a {job} in {city}.",
        (
            ("What is {name}'s job?", "{job}"),
            ("Where does {name} work?", "{city}"),
            ("What does {name} do for a living?", "{name} is a {job}"),
        ),
    ),
    FactTemplate(
        "My favourite fruit is the {fruit}, and my favourite colour is {colour}.",
        (
            ("What is the speaker's favourite fruit?", "the {fruit}"),
            ("What is the speaker's favourite colour?", "{colour}"),
        ),
    ),
    FactTemplate(
        "The train to {city} leaves from platform {small} at {clock}.",
        (
            ("Which platform does the train leave from?", "platform {small}"),
            ("When does the train leave?", "at {clock}"),
            ("Where is the train going?", "{city}"),
        ),
    ),
    FactTemplate(
        "{name} was born in {month} in {city}.",
        (
            ("In which month was {name} born?", "{month}"),
            ("Where was {name} born?", "{city}"),
            ("When was {name} born?", "in {month}"),
        ),
    ),
    FactTemplate(
        "There are {number} {objects} on the {furniture}.",
        (
            ("How many {objects} are on the {furniture}?", "{number}"),
            ("Where are the {objects}?", "on the {furniture}"),
            ("What is on the {furniture}?", "{number} {objects}"),
        ),
    ),
    FactTemplate(
        "{name} plays the {instrument} every {weekday}.",
        (
            ("Which instrument does {name} play?", "the {instrument}"),
            ("On which day does {name} play the {instrument}?", "{weekday}"),
            ("Who plays the {instrument}?", "{name}"),
        ),
    ),
    FactTemplate(
        "The {animal} in the garden is {colour}.",
        (
            ("What colour is the {animal}?", "{colour}"),
            ("Which animal is in the garden?", "a {animal}"),
            ("Where is the {animal}?", "in the garden"),
        ),
    ),
    FactTemplate(
        "{name} drinks {drink} every morning.",
        (
            ("What does {name} drink every morning?", "{drink}"),
            ("Who drinks {drink} every morning?", "{name}"),
            ("When does {name} drink {drink}?", "every morning"),
        ),
    ),
    FactTemplate(
        "The {place} closes at {clock} today.",
        (("What time does the {place} close today?", "{clock}"), ("Which place closes at {clock}?", "the {place}")),
    ),
    FactTemplate(
        "{name} and {name2} are going to {city} by {transport}.",
        (
            ("How are they travelling to {city}?", "by {transport}"),
            ("Where are {name} and {name2} going?", "{city}"),
            ("Who is going to {city} with {name}?", "{name2}"),
        ),
    ),
    FactTemplate(
        "The {room} is painted {colour}.",
        (("What colour is the {room}?", "{colour}"), ("Which room is painted {colour}?", "the {room}")),
    ),
    FactTemplate(
        "{name} is {age} years old.",
        (("How old is {name}?", "{age} years old"), ("Who is {age} years old?", "{name}")),
    ),
    FactTemplate(
        "The {colour} {object} costs {number} dollars.",
        (
            ("How much does the {colour} {object} cost?", "{number} dollars"),
            ("What colour is the {object}?", "{colour}"),
            ("What costs {number} dollars?", "the {colour} {object}"),
        ),
    ),
    FactTemplate(
        "{name} plays {sport} with {possessive} {relative} on {weekday}.",
        (
            ("What sport does {name} play?", "{sport}"),
            ("Who does {name} play {sport} with?", "{possessive} {relative}"),
            ("When does {name} play {sport}?", "on {weekday}"),
        ),
    ),
    FactTemplate(
        "The {object} is in the {room}, next to the {furniture}.",
        (
            ("Where is the {object}?", "in the {room}, next to the {furniture}"),
            ("Which room is the {object} in?", "the {room}"),
            ("What is next to the {furniture}?", "the {object}"),
        ),
    ),
    FactTemplate(
        "{name} wants to visit {city} in {month}.",
        (
            ("Which city does {name} want to visit?", "{city}"),
            ("When does {name} want to visit {city}?", "in {month}"),
            ("Who wants to visit {city}?", "{name}"),
        ),
    ),
)


def spoken_fact(rng: random.Random) -> SpokenFact:
    """Draw a fact sentence, one of its questions and the answer (capitalized like the sentence's words)."""
    index = rng.randrange(len(FACTS))
    fact = FACTS[index]
    values = fill_slots(fact.sentence + " ".join(q + a for q, a in fact.questions), rng)
    question, answer = rng.choice(fact.questions)
    sentence = fact.sentence.format(**values)
    return SpokenFact(sentence[0].upper() + sentence[1:], question.format(**values), answer.format(**values), index)
