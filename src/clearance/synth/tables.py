"""Lookup tables for the synthetic-extract generator: places, people, offenses, sentences.

Everything here is invented or public reference data (county names and DOJ county
numbers, code sections and their usual DOJ wording, common surnames and given names
combined at random). Nothing comes from a real person's record.

Weights are relative; the generator normalises them. The proportions they produce
are documented in ``clearance.synth`` (the package docstring).
"""

from __future__ import annotations

# --------------------------------------------------------------------------- places

# The 58 California counties in DOJ county-number order (01 ALAMEDA ... 58 YUBA).
COUNTIES: tuple[str, ...] = (
    "ALAMEDA", "ALPINE", "AMADOR", "BUTTE", "CALAVERAS", "COLUSA", "CONTRA COSTA",
    "DEL NORTE", "EL DORADO", "FRESNO", "GLENN", "HUMBOLDT", "IMPERIAL", "INYO", "KERN",
    "KINGS", "LAKE", "LASSEN", "LOS ANGELES", "MADERA", "MARIN", "MARIPOSA", "MENDOCINO",
    "MERCED", "MODOC", "MONO", "MONTEREY", "NAPA", "NEVADA", "ORANGE", "PLACER", "PLUMAS",
    "RIVERSIDE", "SACRAMENTO", "SAN BENITO", "SAN BERNARDINO", "SAN DIEGO", "SAN FRANCISCO",
    "SAN JOAQUIN", "SAN LUIS OBISPO", "SAN MATEO", "SANTA BARBARA", "SANTA CLARA",
    "SANTA CRUZ", "SHASTA", "SIERRA", "SISKIYOU", "SOLANO", "SONOMA", "STANISLAUS", "SUTTER",
    "TEHAMA", "TRINITY", "TULARE", "TUOLUMNE", "VENTURA", "YOLO", "YUBA",
)  # fmt: skip
if len(COUNTIES) != 58:
    raise RuntimeError(f"COUNTIES names {len(COUNTIES)} counties, not California's 58")

# Where the rest of a person's history happens (counties other than the extract's),
# roughly by population and cannabis-arrest volume.
OTHER_COUNTY_WEIGHTS: dict[str, float] = {
    "LOS ANGELES": 25, "SAN DIEGO": 8, "ORANGE": 7, "RIVERSIDE": 6, "SAN BERNARDINO": 6,
    "SANTA CLARA": 4, "ALAMEDA": 5, "SACRAMENTO": 5, "CONTRA COSTA": 3, "FRESNO": 3,
    "KERN": 3, "SAN FRANCISCO": 3, "SAN JOAQUIN": 3, "VENTURA": 2, "STANISLAUS": 2,
    "SONOMA": 2, "TULARE": 2, "SOLANO": 2, "SAN MATEO": 2, "MONTEREY": 1.5, "PLACER": 1.5,
    "HUMBOLDT": 1.5, "MENDOCINO": 1.5, "YOLO": 1, "EL DORADO": 1, "BUTTE": 1, "SHASTA": 1,
    "MERCED": 1, "SANTA CRUZ": 1, "NEVADA": 0.5, "SUTTER": 0.5, "YUBA": 0.5,
}  # fmt: skip

# City police departments (ORI `CAPD <CITY>`) by county; counties not listed are
# policed here by the sheriff only (`CASO <COUNTY>`).
CITIES: dict[str, tuple[str, ...]] = {
    "SACRAMENTO": ("SACRAMENTO", "CITRUS HEIGHTS", "ELK GROVE", "FOLSOM", "RANCHO CORDOVA", "GALT"),
    "LOS ANGELES": (
        "LOS ANGELES",
        "LONG BEACH",
        "PASADENA",
        "SANTA MONICA",
        "POMONA",
        "INGLEWOOD",
        "TORRANCE",
        "GLENDALE",
    ),
    "SAN DIEGO": ("SAN DIEGO", "CHULA VISTA", "OCEANSIDE", "ESCONDIDO", "EL CAJON"),
    "ORANGE": ("SANTA ANA", "ANAHEIM", "HUNTINGTON BEACH", "IRVINE", "GARDEN GROVE"),
    "RIVERSIDE": ("RIVERSIDE", "CORONA", "PALM SPRINGS", "HEMET"),
    "SAN BERNARDINO": ("SAN BERNARDINO", "FONTANA", "ONTARIO", "RIALTO"),
    "SANTA CLARA": ("SAN JOSE", "SANTA CLARA", "SUNNYVALE", "GILROY"),
    "ALAMEDA": ("OAKLAND", "BERKELEY", "HAYWARD", "FREMONT"),
    "CONTRA COSTA": ("RICHMOND", "CONCORD", "ANTIOCH"),
    "FRESNO": ("FRESNO", "CLOVIS"),
    "KERN": ("BAKERSFIELD", "DELANO"),
    "SAN FRANCISCO": ("SAN FRANCISCO",),
    "SAN JOAQUIN": ("STOCKTON", "LODI", "TRACY", "MANTECA"),
    "VENTURA": ("OXNARD", "VENTURA", "SIMI VALLEY"),
    "STANISLAUS": ("MODESTO", "TURLOCK"),
    "SONOMA": ("SANTA ROSA", "PETALUMA"),
    "TULARE": ("VISALIA", "TULARE", "PORTERVILLE"),
    "SOLANO": ("VALLEJO", "FAIRFIELD", "VACAVILLE"),
    "SAN MATEO": ("DALY CITY", "SAN MATEO", "REDWOOD CITY"),
    "MONTEREY": ("SALINAS", "MONTEREY", "SEASIDE"),
    "PLACER": ("ROSEVILLE", "ROCKLIN", "AUBURN"),
    "HUMBOLDT": ("EUREKA", "ARCATA"),
    "MENDOCINO": ("UKIAH", "FORT BRAGG"),
    "YOLO": ("WOODLAND", "DAVIS", "WEST SACRAMENTO"),
    "EL DORADO": ("PLACERVILLE", "SOUTH LAKE TAHOE"),
    "BUTTE": ("CHICO", "OROVILLE"),
    "SHASTA": ("REDDING",),
    "MERCED": ("MERCED", "LOS BANOS"),
    "SANTA CRUZ": ("SANTA CRUZ", "WATSONVILLE"),
    "NEVADA": ("GRASS VALLEY", "TRUCKEE"),
    "SUTTER": ("YUBA CITY",),
    "YUBA": ("MARYSVILLE",),
}

# --------------------------------------------------------------------------- people

# (RACE_CODE, RACE_DESCR, weight %, name group). California cannabis arrests:
# Latino ~40, White ~30, Black ~20, Asian/Pacific Islander ~5, other/unknown ~5.
RACES: tuple[tuple[str, str, float, str], ...] = (
    ("H", "HISPANIC", 40.0, "H"),
    ("W", "WHITE", 30.0, "W"),
    ("B", "BLACK", 20.0, "B"),
    ("C", "CHINESE", 0.9, "A"),
    ("F", "FILIPINO", 1.2, "A"),
    ("A", "OTHER ASIAN", 1.3, "A"),
    ("V", "VIETNAMESE", 0.8, "A"),
    ("J", "JAPANESE", 0.3, "A"),
    ("K", "KOREAN", 0.3, "A"),
    ("P", "PACIFIC ISLANDER", 0.2, "A"),
    ("I", "AMERICAN INDIAN", 1.2, "W"),
    ("O", "OTHER", 2.3, "W"),
    ("X", "UNKNOWN", 1.5, "W"),
)

# Common surnames by name group, combined at random with common given names:
# synthetic people, never anyone's record.
SURNAMES: dict[str, tuple[str, ...]] = {
    "H": (
        "GARCIA",
        "RODRIGUEZ",
        "MARTINEZ",
        "HERNANDEZ",
        "LOPEZ",
        "GONZALEZ",
        "PEREZ",
        "SANCHEZ",
        "RAMIREZ",
        "TORRES",
        "FLORES",
        "RIVERA",
        "GOMEZ",
        "DIAZ",
        "REYES",
        "MORALES",
        "CRUZ",
        "ORTIZ",
        "GUTIERREZ",
        "CHAVEZ",
        "RAMOS",
        "RUIZ",
        "ALVAREZ",
        "MENDOZA",
        "CASTILLO",
        "JIMENEZ",
        "MORENO",
        "ROMERO",
        "HERRERA",
        "MEDINA",
        "AGUILAR",
        "VARGAS",
        "GUZMAN",
        "SALAZAR",
        "DELGADO",
        "VASQUEZ",
        "CONTRERAS",
        "ESPINOZA",
        "SANDOVAL",
        "MUNOZ",
        "PENA",
        "NUNEZ",
        "CASTANEDA",
        "IBANEZ",
        "ORDONEZ",
        "YANEZ",
        "BRISENO",
        "MONTANEZ",
    ),
    "W": (
        "SMITH",
        "JOHNSON",
        "MILLER",
        "DAVIS",
        "WILSON",
        "ANDERSON",
        "TAYLOR",
        "THOMAS",
        "MOORE",
        "MARTIN",
        "THOMPSON",
        "WHITE",
        "CLARK",
        "LEWIS",
        "WALKER",
        "HALL",
        "ALLEN",
        "YOUNG",
        "KING",
        "WRIGHT",
        "SCOTT",
        "GREEN",
        "BAKER",
        "ADAMS",
        "NELSON",
        "HILL",
        "CAMPBELL",
        "MITCHELL",
        "ROBERTS",
        "CARTER",
        "PHILLIPS",
        "EVANS",
        "TURNER",
        "PARKER",
        "COLLINS",
        "EDWARDS",
        "STEWART",
        "MORRIS",
        "MURPHY",
        "COOK",
        "ROGERS",
        "MORGAN",
        "COOPER",
        "PETERSON",
        "REED",
        "BAILEY",
        "KELLY",
        "HOWARD",
        "OBRIEN",
        "SULLIVAN",
    ),
    "B": (
        "WILLIAMS",
        "JOHNSON",
        "BROWN",
        "JONES",
        "JACKSON",
        "DAVIS",
        "HARRIS",
        "ROBINSON",
        "THOMAS",
        "WASHINGTON",
        "JEFFERSON",
        "WALKER",
        "GREEN",
        "YOUNG",
        "BANKS",
        "MOORE",
        "LEWIS",
        "CARTER",
        "MITCHELL",
        "WRIGHT",
        "COLEMAN",
        "SIMMONS",
        "HOLMES",
        "GRAY",
        "BUTLER",
        "FREEMAN",
        "BRYANT",
        "HAYES",
        "ALEXANDER",
        "GRIFFIN",
        "WOODS",
        "BOOKER",
        "DIXON",
        "MOSLEY",
        "FRANKLIN",
        "TAYLOR",
    ),
    "A": (
        "NGUYEN",
        "TRAN",
        "LE",
        "PHAM",
        "CHEN",
        "WONG",
        "LEE",
        "CHAN",
        "LIU",
        "HUANG",
        "KIM",
        "PARK",
        "CHOI",
        "SANTOS",
        "BAUTISTA",
        "VILLANUEVA",
        "DELACRUZ",
        "TANAKA",
        "NAKAMURA",
        "YAMAMOTO",
        "PATEL",
        "SINGH",
        "VANG",
        "XIONG",
        "LO",
        "THAO",
        "SAECHAO",
        "FIFITA",
    ),
}

# Surnames whose Spanish spelling has an N-tilde: the Latin-1 defect writes them with
# byte 0xD1 (for example MU\xd1OZ) instead of the ASCII spelling DOJ normally uses.
TILDE_SURNAMES: dict[str, str] = {
    "MUNOZ": "MU\u00d1OZ", "PENA": "PE\u00d1A", "NUNEZ": "NU\u00d1EZ",
    "CASTANEDA": "CASTA\u00d1EDA", "IBANEZ": "IBA\u00d1EZ", "ORDONEZ": "ORDO\u00d1EZ",
    "YANEZ": "YA\u00d1EZ", "BRISENO": "BRISE\u00d1O", "MONTANEZ": "MONTA\u00d1EZ",
}  # fmt: skip

GIVEN_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("H", "M"): ("JOSE", "JUAN", "LUIS", "CARLOS", "JESUS", "MIGUEL", "ANTONIO", "FRANCISCO",
                 "JORGE", "MANUEL", "RICARDO", "ALEJANDRO", "EDUARDO", "RAUL", "SERGIO",
                 "ROBERTO", "MARIO", "DAVID", "DANIEL", "ADRIAN"),
    ("H", "F"): ("MARIA", "GUADALUPE", "ROSA", "ANA", "VERONICA", "LETICIA", "ELENA",
                 "YOLANDA", "GABRIELA", "CRISTINA", "SANDRA", "ADRIANA"),
    ("W", "M"): ("MICHAEL", "DAVID", "JAMES", "ROBERT", "JOHN", "WILLIAM", "RICHARD", "JOSEPH",
                 "THOMAS", "CHRISTOPHER", "DANIEL", "MATTHEW", "MARK", "DONALD", "STEVEN",
                 "KEVIN", "BRIAN", "TIMOTHY", "JASON", "SCOTT", "GARY", "RYAN"),
    ("W", "F"): ("MARY", "PATRICIA", "LINDA", "JENNIFER", "ELIZABETH", "SUSAN", "KAREN",
                 "LISA", "MICHELLE", "AMANDA", "HEATHER", "NICOLE", "DEBORAH"),
    ("B", "M"): ("JAMES", "MICHAEL", "ANTHONY", "DARNELL", "TYRONE", "ANDRE", "MARCUS",
                 "TERRELL", "DEANDRE", "JAMAL", "CURTIS", "KENNETH", "LARRY", "REGINALD",
                 "CEDRIC", "ERIC", "WILLIE", "CALVIN"),
    ("B", "F"): ("TANYA", "KEISHA", "LATOYA", "SHANICE", "ANGELA", "MONIQUE", "TIFFANY",
                 "DENISE", "BRENDA", "AALIYAH"),
    ("A", "M"): ("MINH", "DUC", "TUAN", "WEI", "JUN", "KAO", "TOU", "HIEU", "RAYMOND", "KENNY",
                 "JOSEPH", "PAOLO", "HIROSHI", "SUNG", "RAJ"),
    ("A", "F"): ("MAI", "LAN", "MEI", "LINH", "GRACE", "JENNY", "KIMBERLY", "PANG", "MARISOL",
                 "YUKI"),
}  # fmt: skip

EYES: tuple[tuple[str, str, float], ...] = (
    ("BRO", "BROWN", 70), ("BLK", "BLACK", 8), ("BLU", "BLUE", 10), ("HAZ", "HAZEL", 7),
    ("GRN", "GREEN", 5),
)  # fmt: skip
HAIR: tuple[tuple[str, str, float], ...] = (
    ("BLK", "BLACK", 50), ("BRO", "BROWN", 35), ("BLN", "BLOND", 7), ("RED", "RED", 2),
    ("GRY", "GRAY", 4), ("BAL", "BALD", 2),
)  # fmt: skip
# (POB_CODE, POB_NAME, weight)
BIRTHPLACES: tuple[tuple[str, str, float], ...] = (
    ("CA", "CALIFORNIA", 70), ("MX", "MEXICO", 12), ("TX", "TEXAS", 3), ("NV", "NEVADA", 1),
    ("OR", "OREGON", 1), ("AZ", "ARIZONA", 1), ("NY", "NEW YORK", 1), ("IL", "ILLINOIS", 1),
    ("LA", "LOUISIANA", 1), ("VN", "VIETNAM", 1), ("PH", "PHILIPPINES", 1), ("XX", "UNKNOWN", 7),
)  # fmt: skip

# --------------------------------------------------------------------------- offenses

# Each offense: (OFFENSE_DESCR as DOJ writes it, code label a reader should normalise it
# to, the charge for a `CHRG ...` comment, OFFENSE_TOC, cannabis section or "").
Offense = tuple[str, str, str, str, str]

CANNABIS: dict[str, tuple[tuple[Offense, float], ...]] = {
    "11357": (
        (("11357 HS-POSSESS MARIJUANA", "HS", "11357 HS", "M", "11357"), 35),
        (("11357(B) HS-POSSESS 28.5 GRAMS OR LESS MARIJUANA", "HS", "11357(B) HS", "M",
          "11357"), 35),
        (("11357(C) HS-POSSESS MARIJUANA OVER 28.5 GRAMS", "HS", "11357(C) HS", "M", "11357"),
         15),
        (("11357(A) HS-POSSESS CONCENTRATED CANNABIS", "HS", "11357(A) HS", "F", "11357"), 15),
    ),
    "11358": (
        (("11358 HS-CULTIVATE MARIJUANA", "HS", "11358 HS", "F", "11358"), 70),
        (("11358 HS-PLANT/CULTIVATE/ETC MARIJUANA/HASHISH", "HS", "11358 HS", "F", "11358"), 30),
    ),
    "11359": (
        (("11359 HS-POSSESS MARIJUANA FOR SALE", "HS", "11359 HS", "F", "11359"), 75),
        (("11359 HS-POSS MARIJ/HASH FOR SALE", "HS", "11359 HS", "F", "11359"), 25),
    ),
    "11360": (
        (("11360(A) HS-SELL/FURNISH/ETC MARIJUANA/HASH", "HS", "11360(A) HS", "F", "11360"), 60),
        (("11360 HS-TRANSPORT/SELL/ETC MARIJUANA", "HS", "11360 HS", "F", "11360"), 25),
        (("11360(B) HS-GIVE/TRANSPORT/ETC 28.5 GRAMS MARIJ", "HS", "11360(B) HS", "M", "11360"),
         15),
    ),
}  # fmt: skip
CANNABIS_SECTIONS: tuple[str, ...] = ("11357", "11358", "11359", "11360")

# Share of each section among the cannabis conviction that puts a person in the
# extract, and among other cannabis charges. Possession and possession for sale
# dominate, as in DOJ's own counts of Prop 64 eligible records.
ANCHOR_SECTION_WEIGHTS: tuple[float, ...] = (42, 10, 33, 15)
OTHER_SECTION_WEIGHTS: tuple[float, ...] = (50, 8, 27, 15)

# Rare cannabis variants the rules turn on, by section.
ATTEMPTS: dict[str, Offense] = {
    "11358": ("664/11358 HS-CULTIVATE MARIJUANA", "HS", "664/11358 HS", "F", "11358"),
    "11359": ("664/11359 HS-POSSESS MARIJUANA FOR SALE", "HS", "664/11359 HS", "F", "11359"),
    "11360": ("664/11360 HS-SELL/FURNISH/ETC MARIJUANA/HASH", "HS", "664/11360 HS", "F", "11360"),
}
EXCLUDED: dict[str, Offense] = {
    "11359": ("11359(D) HS-POSS MARIJ FOR SALE:HIRE/USE MINOR", "HS", "11359(D) HS", "F",
              "11359"),
    "11360": ("11360(A)(3)(D) HS-IMPORT/EXPORT MARIJ OVER 28.5 GRAMS", "HS",
              "11360(A)(3)(D) HS", "F", "11360"),
}  # fmt: skip
MISCODED: dict[str, Offense] = {
    "11357": ("11357HS-POSSESS MARIJUANA", "HS", "11357 HS", "M", "11357"),
    "11359": ("11359 PC-POSS MARIJ FOR SALE", "HS", "11359 HS", "F", "11359"),
    "11360": ("11360HS-SELL/TRANSPORT MARIJUANA", "HS", "11360 HS", "F", "11360"),
}

# Everything else on a cannabis defendant's rap sheet (weights ~ share of charges).
OTHER_OFFENSES: tuple[tuple[Offense, float], ...] = (
    (("11350(A) HS-POSSESS NARCOTIC CONTROLLED SUBSTANCE", "HS", "11350(A) HS", "F", ""), 8),
    (("11377(A) HS-POSSESS CONTROLLED SUBSTANCE", "HS", "11377(A) HS", "F", ""), 9),
    (("11364 HS-POSSESS CONTROLLED SUBSTANCE PARAPHERNALIA", "HS", "11364 HS", "M", ""), 5),
    (("11550(A) HS-UNDER INFLUENCE CONTROLLED SUBSTANCE", "HS", "11550(A) HS", "M", ""), 5),
    (("11351 HS-POSSESS/PURCHASE FOR SALE NARCOTIC", "HS", "11351 HS", "F", ""), 1.5),
    (("11378 HS-POSSESS CONTROLLED SUBSTANCE FOR SALE", "HS", "11378 HS", "F", ""), 1.5),
    (("11357.5(A) HS-SELL/ETC SYNTHETIC CANNABINOID", "HS", "11357.5(A) HS", "M", ""), 0.3),
    (("4060 BP-POSSESS CONTROLLED SUBSTANCE W/O PRESCRIP", "BP", "4060 BP", "M", ""), 1),
    (("25662(A) BP-MINOR POSSESS ALCOHOL", "BP", "25662(A) BP", "M", ""), 1),
    (("23152(A) VC-DUI ALCOHOL/DRUGS", "VC", "23152(A) VC", "M", ""), 7),
    (("23152(B) VC-DUI ALCOHOL/0.08 PERCENT", "VC", "23152(B) VC", "M", ""), 4),
    (("14601.1(A) VC-DRIVE WHILE LIC SUSPENDED/ETC", "VC", "14601.1(A) VC", "M", ""), 6),
    (("12500(A) VC-DRIVE WITHOUT LICENSE", "VC", "12500(A) VC", "M", ""), 4),
    (("10851(A) VC-TAKE VEHICLE W/O OWNER CONSENT", "VC", "10851(A) VC", "F", ""), 3),
    (("20002(A) VC-HIT AND RUN:PROPERTY DAMAGE", "VC", "20002(A) VC", "M", ""), 1.5),
    (("40508(A) VC-FAIL TO APPEAR:WRITTEN PROMISE", "VC", "40508(A) VC", "M", ""), 2),
    (("459 PC-BURGLARY", "PC", "459 PC", "F", ""), 6),
    (("484(A) PC-THEFT OF PROPERTY", "PC", "484(A) PC", "M", ""), 5),
    (("488 PC-PETTY THEFT", "PC", "488 PC", "M", ""), 3),
    (("666 PC-PETTY THEFT W/PRIOR JAIL:SPECIFIED OFFENSES", "PC", "666 PC", "F", ""), 1.5),
    (("487(A) PC-GRAND THEFT:MONEY/LABOR/PROPERTY", "PC", "487(A) PC", "F", ""), 2),
    (("496(A) PC-RECEIVE/ETC KNOWN STOLEN PROPERTY", "PC", "496(A) PC", "F", ""), 3),
    (("211 PC-ROBBERY", "PC", "211 PC", "F", ""), 1.5),
    (("242 PC-BATTERY", "PC", "242 PC", "M", ""), 3),
    (("243(E)(1) PC-BATTERY:SPOUSE/EX SPOUSE/DATE/ETC", "PC", "243(E)(1) PC", "M", ""), 2),
    (("273.5(A) PC-INFLICT CORPORAL INJ SPOUSE/COHAB", "PC", "273.5(A) PC", "F", ""), 2),
    (("245(A)(1) PC-ASSAULT W/DEADLY WEAPON", "PC", "245(A)(1) PC", "F", ""), 2),
    (("148(A)(1) PC-OBSTRUCT/RESIST PUBLIC OFFICER/ETC", "PC", "148(A)(1) PC", "M", ""), 4),
    (("166(A)(4) PC-CONTEMPT:DISOBEY COURT ORDER/ETC", "PC", "166(A)(4) PC", "M", ""), 1.5),
    (("647(F) PC-DISORDERLY CONDUCT:INTOX DRUG/ALCOHOL", "PC", "647(F) PC", "M", ""), 4),
    (("647(B) PC-DISORDERLY CONDUCT:PROSTITUTION", "PC", "647(B) PC", "M", ""), 0.7),
    (("594(A) PC-VANDALISM", "PC", "594(A) PC", "M", ""), 2),
    (("602 PC-TRESPASSING", "PC", "602 PC", "M", ""), 1),
    (("470(A) PC-FORGERY", "PC", "470(A) PC", "F", ""), 1),
    (("137(B) PC-INDUCE FALSE TESTIMONY", "PC", "137(B) PC", "F", ""), 0.1),
    (("12025(A)(1) PC-CARRY CONCEALED WEAPON IN VEHICLE", "PC", "12025(A)(1) PC", "M", ""), 1),
    (("12021(A)(1) PC-FELON/ADDICT/ETC POSS/ETC FIREARM", "PC", "12021(A)(1) PC", "F", ""), 1),
    (("3056 PC-VIOLATION OF PAROLE:FELONY", "PC", "3056 PC", "F", ""), 2),
    (("1203.2 PC-VIOLATION OF PROBATION", "PC", "1203.2 PC", "M", ""), 2),
    (("853.7 PC-FAIL TO APPEAR AFTER WRITTEN PROMISE", "PC", "853.7 PC", "M", ""), 1.5),
    (("664/211 PC-ATTEMPTED ROBBERY", "PC", "664/211 PC", "F", ""), 0.3),
    (("10980(C)(2) WI-WELFARE FRAUD", "WI", "10980(C)(2) WI", "F", ""), 0.3),
)  # fmt: skip

# Offenses behind the statutory disqualifiers (prop64.md, "Super-strike and PC 290").
SUPER_STRIKES: tuple[tuple[Offense, float], ...] = (
    (("187(A) PC-MURDER", "PC", "187(A) PC", "F", ""), 20),
    (("261(A)(2) PC-RAPE BY FORCE/FEAR/ETC", "PC", "261(A)(2) PC", "F", ""), 25),
    (("288(A) PC-LEWD OR LASCIV ACTS W/CHILD UNDER 14", "PC", "288(A) PC", "F", ""), 30),
    (("207(A) PC-KIDNAPPING", "PC", "207(A) PC", "F", ""), 15),
    (("269(A)(1) PC-AGGRAVATED SEXUAL ASSAULT OF CHILD", "PC", "269(A)(1) PC", "F", ""), 10),
)
# Serious (PC 1192.7(c)) and violent (PC 667.5(c)) felonies that replace some
# other felony convictions, and the enhancement counts a case may add beside them.
SERIOUS_VIOLENT: tuple[tuple[Offense, float], ...] = (
    (("211 PC-ROBBERY", "PC", "211 PC", "F", ""), 30),
    (("459 PC-BURGLARY:FIRST DEGREE", "PC", "459 PC", "F", ""), 20),
    (("460(A) PC-BURGLARY:FIRST DEGREE", "PC", "460(A) PC", "F", ""), 5),
    (("245(A)(1) PC-ASSAULT WITH DEADLY WEAPON", "PC", "245(A)(1) PC", "F", ""), 20),
    (("422 PC-CRIMINAL THREATS", "PC", "422 PC", "F", ""), 15),
    (("246 PC-SHOOT AT INHABITED DWELLING/VEHICLE", "PC", "246 PC", "F", ""), 4),
    (("215(A) PC-CARJACKING", "PC", "215(A) PC", "F", ""), 3),
    (("451(B) PC-ARSON:INHABITED STRUCTURE", "PC", "451(B) PC", "F", ""), 3),
)
ENHANCEMENTS: tuple[tuple[Offense, float], ...] = (
    (("12022.5(A) PC-PERSONAL USE OF FIREARM", "PC", "12022.5(A) PC", "F", ""), 30),
    (("12022.53(B) PC-PERSONAL USE OF FIREARM", "PC", "12022.53(B) PC", "F", ""), 10),
    (("12022.7(A) PC-GREAT BODILY INJURY", "PC", "12022.7(A) PC", "F", ""), 30),
    (("12022(B)(1) PC-PERSONAL USE OF DEADLY WEAPON", "PC", "12022(B)(1) PC", "F", ""), 30),
)
PC290: tuple[tuple[Offense, float], ...] = (
    (("314(1) PC-INDECENT EXPOSURE", "PC", "314(1) PC", "M", ""), 40),
    (("647.6(A) PC-ANNOY/MOLEST CHILD UNDER 18", "PC", "647.6(A) PC", "M", ""), 25),
    (("243.4(A) PC-SEXUAL BATTERY", "PC", "243.4(A) PC", "M", ""), 20),
    (("311.11(A) PC-POSS/ETC MATTER DEPICT MINOR SEX", "PC", "311.11(A) PC", "F", ""), 15),
)
REGISTRATION: Offense = ("290 PC-REGISTRATION OF SEX OFFENDER", "PC", "290 PC", "", "")
NO_OFFENSE: Offense = ("", "", "", "", "")

# --------------------------------------------------------------------------- court

# DISP_DESCR for a court count that is not a conviction, with weights. Dismissals
# dominate (most are the other charges of a plea bargain); court diversion and
# deferred entry of judgment end in dismissal; trials that acquit are rare.
NOT_CONVICTED: tuple[tuple[str, float], ...] = (
    ("DISMISSED/CHARGE DROPPED", 40),
    ("DISMISSED/FURTHERANCE OF JUSTICE", 18),
    ("DISMISSED-FURTHERANCE OF JUSTICE 1385 PC", 6),
    ("DISMISSED-DIVERSION COMPLETED", 8),
    ("DIVERSION COMPLETED-DISMISSED PER 1001.95 PC", 3),
    ("DEJ COMPLETED 1000 PC", 3),
    ("ACQUITTED", 4),
    ("NOT GUILTY", 2),
    ("TRANSFERRED TO OTHER JURIS", 1),
)
# DISP_DESCR on arrest rows of an arrest that never reached court: most such arrests
# end with a prosecutor's rejection or a release without charges; a few are
# transferred, and some carry no disposition at all (DOJ's "missing dispositions").
ARREST_ONLY: tuple[tuple[str, float], ...] = (
    ("PROS REJ-INSUFFICIENT EVIDENCE", 30),
    ("PROS REJ-LACK OF SUFFICIENT EVIDENCE", 12),
    ("PROS REJ-INTERESTS OF JUSTICE", 8),
    ("RELEASED/DETENTION ONLY", 22),
    ("849(B)(1) PC-RELEASED/NO FURTHER PROCEEDINGS", 10),
    ("REL/TOT OTHER JURIS/AUTH", 3),
    ("", 5),
)
# DISP_DESCR on every count of a court case still open (no final disposition).
OPEN_COURT: tuple[tuple[str, float], ...] = (
    ("COMPLAINT FILED", 45),
    ("", 25),
    ("BENCH WARRANT ISSUED", 15),
    ("CONTINUED", 15),
)
# A later court step of a case whose probation was revoked (PROB and REVOK): the
# generator writes the first two without a new sentence, the last (mostly) with one.
REVOKED: tuple[str, ...] = (
    "PROBATION REVOKED",
    "PROBATION REVOKED AND TERMINATED",
    "PROB REVOKED-SENTENCED",
)
# A later court step setting a conviction aside (earlier relief), by the section the
# sentence allows: 1203.4 after probation, 1203.4a a misdemeanor without probation,
# 1203.41 a felony county-jail term (PC 1170(h)).
SET_ASIDE: tuple[str, ...] = (
    "CONV SET ASIDE & DISM PER 1203.4 PC",
    "CONV SET ASIDE & DISM PER 1203.4A PC",
    "CONV SET ASIDE & DISM PER 1203.41 PC",
)

# Sentence parts: (SENT_LOC_CODE, SENT_LOC_DESCR, lengths, SENT_TIME_CODE).
# A FINE part has no length, as in the peer extracts.
TIME_DESCR: dict[str, str] = {"D": "DAYS      ", "M": "MONTHS    ", "Y": "YEARS     ", "": ""}
Sentence = tuple[str, str, str, str]


def _parts(code: str, descr: str, unit: str, lengths: tuple[int, ...]) -> tuple[Sentence, ...]:
    return tuple((code, descr, str(n), unit) for n in lengths)


SENTENCE_OPTIONS: dict[str, tuple[Sentence, ...]] = {
    "jail_m": _parts("J", "JAIL", "D", (1, 2, 5, 10, 15, 30, 45, 60, 90, 180)),
    "jail_f": (
        *_parts("J", "JAIL", "D", (90, 120, 180, 240, 270, 365)),
        *_parts("J", "JAIL", "M", (6,)),
        *_parts("J", "JAIL", "Y", (1,)),
    ),
    "prob_m": (
        *_parts("P", "PROBATION", "M", (12, 18, 24, 36)),
        *_parts("P", "PROBATION", "Y", (3,)),
    ),
    "prob_f": (*_parts("P", "PROBATION", "M", (36, 60)), *_parts("P", "PROBATION", "Y", (3, 5))),
    "prison": (*_parts("S", "PRISON", "M", (16,)), *_parts("S", "PRISON", "Y", (2, 3, 4, 5, 6, 8))),
    "prison_long": _parts("S", "PRISON", "Y", (7, 15, 25)),
    "fine": (("F", "FINE", "", ""),),
}
