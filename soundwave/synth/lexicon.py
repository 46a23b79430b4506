"""Word lists that fill the sentence and question templates (plain data, easy to speak, US English)."""

from __future__ import annotations

NAMES = (
    "Alice", "Ben", "Carla", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jack", "Karen", "Leo",
    "Maria", "Nathan", "Olivia", "Peter", "Rachel", "Sam", "Tina", "Victor", "Wendy", "Tom", "Lucy", "Mark",
    "Nina", "Oscar", "Paula", "Ryan", "Sarah", "Daniel", "Helen", "George", "Julia", "Kevin", "Laura", "Mike",
)  # fmt: skip
CITIES = (
    "Paris", "London", "Berlin", "Madrid", "Rome", "Tokyo", "Chicago", "Boston", "Denver", "Seattle",
    "Dallas", "Toronto", "Dublin", "Vienna", "Lisbon", "Sydney", "Cairo", "Oslo", "Prague", "Miami",
    "Houston", "Atlanta", "Phoenix", "Portland", "Montreal", "Athens", "Warsaw", "Helsinki",
)  # fmt: skip
COLOURS = (
    "red",
    "blue",
    "green",
    "yellow",
    "black",
    "white",
    "orange",
    "purple",
    "brown",
    "pink",
    "grey",
    "silver",
)
VEHICLES = ("car", "bike", "truck", "van", "bus", "boat", "scooter", "motorbike")
ANIMALS = ("cat", "dog", "horse", "rabbit", "bird", "fox", "duck", "goat", "sheep", "mouse", "turtle", "owl")
ANIMALS_PLURAL = (
    "cats",
    "dogs",
    "horses",
    "rabbits",
    "birds",
    "ducks",
    "goats",
    "chickens",
    "fish",
    "turtles",
)
JOBS = (
    "teacher", "doctor", "nurse", "farmer", "baker", "pilot", "lawyer", "painter", "driver", "chef",
    "dentist", "engineer", "writer", "singer", "carpenter", "librarian", "plumber", "gardener",
)  # fmt: skip
FRUITS = ("apple", "banana", "orange", "pear", "peach", "mango", "lemon", "cherry", "grape", "plum", "melon")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
INSTRUMENTS = ("piano", "guitar", "violin", "drums", "flute", "trumpet", "cello", "harp", "saxophone")
TRANSPORT = ("train", "bus", "car", "plane", "boat", "bike")
DRINKS = ("tea", "coffee", "milk", "water", "orange juice", "hot chocolate", "lemonade", "apple juice")
FOODS = (
    "apples",
    "eggs",
    "potatoes",
    "carrots",
    "tomatoes",
    "onions",
    "lemons",
    "bananas",
    "oranges",
    "rolls",
)
OBJECTS = (
    "lamp", "book", "phone", "key", "umbrella", "bag", "cup", "clock", "pen", "box", "chair", "mirror",
    "basket", "bottle", "blanket", "camera", "wallet", "hat",
)  # fmt: skip
OBJECTS_PLURAL = ("books", "cups", "pens", "keys", "boxes", "plates", "candles", "shoes", "apples", "bottles")
FURNITURE = ("table", "shelf", "desk", "bed", "sofa", "chair", "counter", "bench", "cupboard")
ROOMS = ("kitchen", "bedroom", "living room", "bathroom", "hall", "office", "garage", "basement")
PLACES = (
    "library", "station", "market", "park", "museum", "bakery", "post office", "hospital", "school",
    "beach", "cinema", "bank", "pharmacy", "gym", "garden", "airport",
)  # fmt: skip
WHEN = (
    "tomorrow",
    "tonight",
    "this morning",
    "this afternoon",
    "next week",
    "on Friday",
    "after lunch",
    "later",
)
WEATHER = ("sunny", "rainy", "cold", "warm", "windy", "cloudy", "hot", "foggy")
CLOTHING = ("coat", "jacket", "scarf", "hat", "sweater", "raincoat")
RELATIVES = ("sister", "brother", "aunt", "uncle", "cousin", "grandmother", "grandfather", "friend")
CHORES = (
    "water the plants", "feed the cat", "take out the trash", "lock the door", "buy some bread",
    "call the dentist", "clean the kitchen", "walk the dog", "wash the dishes", "pay the bills",
)  # fmt: skip
SPORTS = ("tennis", "football", "basketball", "golf", "chess", "volleyball", "baseball", "hockey")

SLOTS: dict[str, tuple[str, ...]] = {
    "name": NAMES,
    "city": CITIES,
    "colour": COLOURS,
    "vehicle": VEHICLES,
    "animal": ANIMALS,
    "animals": ANIMALS_PLURAL,
    "job": JOBS,
    "fruit": FRUITS,
    "month": MONTHS,
    "weekday": WEEKDAYS,
    "instrument": INSTRUMENTS,
    "transport": TRANSPORT,
    "drink": DRINKS,
    "foods": FOODS,
    "object": OBJECTS,
    "objects": OBJECTS_PLURAL,
    "furniture": FURNITURE,
    "room": ROOMS,
    "place": PLACES,
    "when": WHEN,
    "weather": WEATHER,
    "clothing": CLOTHING,
    "relative": RELATIVES,
    "chore": CHORES,
    "sport": SPORTS,
}
NOUNS = OBJECTS + ANIMALS + FRUITS + INSTRUMENTS + FURNITURE

# text-only instruction data: facts with one short right answer
CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Spain": "Madrid", "Italy": "Rome", "Japan": "Tokyo",
    "Canada": "Ottawa", "Australia": "Canberra", "Egypt": "Cairo", "Norway": "Oslo", "Sweden": "Stockholm",
    "Finland": "Helsinki", "Poland": "Warsaw", "Portugal": "Lisbon", "Ireland": "Dublin", "Austria": "Vienna",
    "Greece": "Athens", "Russia": "Moscow", "China": "Beijing", "India": "New Delhi", "Brazil": "Brasilia",
    "Argentina": "Buenos Aires", "Mexico": "Mexico City", "Kenya": "Nairobi", "Peru": "Lima",
    "Chile": "Santiago", "Turkey": "Ankara", "Denmark": "Copenhagen", "Belgium": "Brussels",
    "the Netherlands": "Amsterdam", "Switzerland": "Bern", "Hungary": "Budapest", "Thailand": "Bangkok",
    "South Korea": "Seoul", "Vietnam": "Hanoi", "Cuba": "Havana", "the United Kingdom": "London",
    "the United States": "Washington, D.C.",
}  # fmt: skip
OPPOSITES = {
    "hot": "cold", "big": "small", "fast": "slow", "happy": "sad", "light": "dark", "open": "closed",
    "early": "late", "full": "empty", "hard": "soft", "high": "low", "long": "short", "old": "new",
    "rich": "poor", "strong": "weak", "wet": "dry", "up": "down", "inside": "outside", "first": "last",
    "loud": "quiet", "clean": "dirty", "heavy": "light", "thick": "thin", "wide": "narrow", "near": "far",
    "true": "false", "win": "lose", "buy": "sell", "push": "pull", "day": "night", "left": "right",
}  # fmt: skip
DEFINITIONS = {
    "library": "a place where books are kept for people to read or borrow",
    "bakery": "a shop that makes and sells bread and cakes",
    "umbrella": "a folding cover that keeps the rain off you",
    "pilot": "a person who flies an aircraft",
    "thermometer": "an instrument that measures temperature",
    "orchard": "a piece of land where fruit trees are grown",
    "dentist": "a doctor who takes care of teeth",
    "calendar": "a chart that shows the days, weeks and months of a year",
    "island": "a piece of land surrounded by water",
    "recipe": "instructions for cooking a dish",
    "telescope": "an instrument that makes distant objects look closer",
    "volcano": "a mountain that can erupt with lava and ash",
    "glacier": "a slow-moving river of ice",
    "harvest": "the gathering of ripe crops",
    "passport": "an official document for travelling to other countries",
    "puddle": "a small pool of water on the ground",
    "librarian": "a person who looks after a library",
    "breakfast": "the first meal of the day",
    "desert": "a dry area that gets very little rain",
    "bridge": "a structure built to cross over a river or road",
    "whisper": "to speak very quietly",
    "borrow": "to take something and promise to give it back",
    "ancient": "very old",
    "enormous": "very large",
    "fragile": "easily broken",
    "generous": "happy to give to others",
    "nocturnal": "active at night",
    "migrate": "to move from one region to another with the seasons",
    "vertical": "pointing straight up and down",
    "predict": "to say what will happen in the future",
}  # fmt: skip
