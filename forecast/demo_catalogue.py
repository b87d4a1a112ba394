"""Static knowledge behind the demo generator: zone sizes, occupations, seasons, contracts, training titles.

Everything here is hand-written, approximate and documented; :mod:`forecast.demo` turns it into data.
"""
from __future__ import annotations

from dataclasses import dataclass

# Employment proxy per Grand Est zone d'emploi (thousands of jobs at the place of work, rounded,
# order of magnitude of INSEE "emploi au lieu de travail"): Strasbourg, Nancy, Metz, Reims and Mulhouse
# lead; cross-border zones (Saint-Louis, Thionville, Forbach) have fewer local jobs than residents.
ZONE_SIZE: dict[str, float] = {
    "4401": 30, "4402": 45, "4403": 70, "4404": 40, "4405": 85, "4406": 40, "4407": 75, "4408": 30,
    "4409": 75, "4410": 185, "4411": 115, "4412": 200, "4413": 150, "4414": 22, "4415": 18, "4416": 40,
    "4417": 32, "4418": 40, "4419": 28, "4420": 30, "4421": 30, "4422": 35, "4423": 320, "4424": 70,
    "4425": 95, "4426": 25, "4427": 40,
}

# Monthly multiplicative profiles (January first); normalised to mean 1 by the generator.
SEASONS: dict[str, tuple[float, ...]] = {
    "flat": (1.05, 1.05, 1.08, 1.04, 1.02, 1.00, 0.95, 0.80, 1.06, 1.05, 0.98, 0.92),
    "harvest": (0.45, 0.45, 0.50, 0.55, 0.60, 0.75, 1.30, 3.40, 2.80, 0.55, 0.35, 0.30),
    "agriculture": (0.65, 0.70, 1.00, 1.30, 1.40, 1.35, 1.20, 1.00, 1.00, 0.85, 0.75, 0.80),
    "hospitality": (0.80, 0.85, 1.00, 1.20, 1.35, 1.40, 1.15, 0.85, 1.00, 0.90, 0.80, 0.90),
    "retail": (0.90, 0.85, 0.90, 0.90, 0.92, 0.95, 0.95, 0.85, 1.00, 1.35, 1.45, 0.88),
    "construction": (0.90, 1.05, 1.22, 1.22, 1.15, 1.05, 0.95, 0.62, 1.12, 1.08, 0.97, 0.67),
    "logistics": (0.90, 0.88, 0.95, 0.95, 0.95, 1.00, 0.95, 0.82, 1.00, 1.15, 1.30, 1.05),
    "health": (1.00, 0.98, 1.00, 1.05, 1.15, 1.15, 1.05, 0.85, 1.00, 1.00, 0.95, 0.82),
    "industry": (1.05, 1.05, 1.08, 1.05, 1.02, 1.00, 0.92, 0.72, 1.08, 1.06, 1.02, 0.85),
    "office": (1.12, 1.05, 1.05, 1.00, 0.98, 0.98, 0.90, 0.72, 1.12, 1.08, 1.00, 0.85),
    "education": (0.85, 0.85, 0.90, 0.90, 0.95, 1.10, 1.20, 1.45, 1.40, 0.90, 0.75, 0.70),
}

# family -> (season, default annual trend, contract shares CDI/CDD/MIS/SAI, P(nombrePostes > 1),
#            qualification, covid depth in April 2020)
@dataclass(frozen=True)
class Family:
    season: str
    trend: float
    contracts: tuple[float, float, float, float]
    multi_positions: float
    qualification: str
    covid_floor: float


FAMILIES: dict[str, Family] = {
    "wine": Family("harvest", 0.01, (0.03, 0.30, 0.02, 0.65), 0.45, "Ouvrier spécialisé", 0.40),
    "agri": Family("agriculture", 0.00, (0.22, 0.35, 0.08, 0.35), 0.30, "Ouvrier spécialisé", 0.55),
    "hosp": Family("hospitality", 0.01, (0.45, 0.30, 0.05, 0.20), 0.12, "Employé qualifié", 0.12),
    "retail": Family("retail", -0.005, (0.45, 0.36, 0.14, 0.05), 0.10, "Employé non qualifié", 0.30),
    "food": Family("retail", 0.00, (0.60, 0.25, 0.10, 0.05), 0.06, "Employé qualifié", 0.45),
    "sales": Family("office", 0.00, (0.70, 0.20, 0.10, 0.00), 0.05, "Employé qualifié", 0.35),
    "constr": Family("construction", 0.00, (0.50, 0.10, 0.40, 0.00), 0.12, "Ouvrier qualifié (P3,P4,OHQ)", 0.30),
    "renov": Family("construction", 0.05, (0.62, 0.10, 0.28, 0.00), 0.10, "Ouvrier qualifié (P3,P4,OHQ)", 0.35),
    "btp_cadre": Family("construction", 0.01, (0.80, 0.12, 0.08, 0.00), 0.03, "Technicien", 0.40),
    "indus": Family("industry", -0.015, (0.35, 0.10, 0.55, 0.00), 0.20, "Ouvrier qualifié (P1,P2)", 0.30),
    "indus_tech": Family("industry", 0.01, (0.70, 0.12, 0.18, 0.00), 0.06, "Technicien", 0.40),
    "print": Family("industry", -0.06, (0.50, 0.15, 0.35, 0.00), 0.05, "Ouvrier qualifié (P1,P2)", 0.35),
    "repair": Family("flat", 0.01, (0.65, 0.15, 0.20, 0.00), 0.06, "Ouvrier qualifié (P3,P4,OHQ)", 0.40),
    "logist": Family("logistics", 0.04, (0.28, 0.15, 0.57, 0.00), 0.35, "Ouvrier spécialisé", 0.45),
    "transport": Family("logistics", 0.03, (0.55, 0.20, 0.25, 0.00), 0.15, "Ouvrier qualifié (P3,P4,OHQ)", 0.45),
    "health": Family("health", 0.04, (0.55, 0.40, 0.05, 0.00), 0.10, "Employé qualifié", 0.70),
    "care": Family("health", 0.06, (0.62, 0.35, 0.03, 0.00), 0.15, "Employé qualifié", 0.65),
    "social": Family("education", 0.02, (0.55, 0.42, 0.03, 0.00), 0.05, "Employé qualifié", 0.55),
    "services": Family("flat", 0.02, (0.45, 0.35, 0.20, 0.00), 0.15, "Employé non qualifié", 0.45),
    "office": Family("office", 0.00, (0.58, 0.30, 0.12, 0.00), 0.03, "Employé qualifié", 0.35),
    "office_down": Family("office", -0.05, (0.50, 0.35, 0.15, 0.00), 0.02, "Employé qualifié", 0.35),
    "it": Family("office", 0.06, (0.80, 0.12, 0.08, 0.00), 0.05, "Cadre", 0.55),
}

# Historic ROME code -> (family, relative weight in the regional offer mix).
OCCUPATIONS: dict[str, tuple[str, float]] = {
    # health
    "J1501": ("health", 40), "J1506": ("health", 35), "J1301": ("health", 25), "J1304": ("health", 8),
    "J1307": ("health", 6), "J1305": ("health", 6), "J1102": ("health", 4), "J1404": ("health", 4),
    "J1502": ("health", 2), "M1609": ("health", 6), "J1302": ("health", 2), "J1405": ("health", 3),
    "J1306": ("health", 2),
    # care, social, education, services
    "K1302": ("care", 45), "K1304": ("care", 12), "K1303": ("care", 10), "K1207": ("social", 10),
    "K1202": ("social", 5), "K1201": ("social", 4), "K1801": ("social", 4), "K1205": ("social", 3),
    "K2111": ("social", 8), "K2104": ("social", 6), "K2106": ("social", 3), "K2107": ("social", 4),
    "K2110": ("social", 3), "G1203": ("social", 10), "G1204": ("social", 4),
    "K2204": ("services", 35), "K2503": ("services", 12), "K2303": ("services", 3), "K2304": ("services", 4),
    "K2501": ("services", 2), "I1203": ("services", 8),
    # hospitality
    "G1602": ("hosp", 30), "G1603": ("hosp", 25), "G1803": ("hosp", 35), "G1601": ("hosp", 15),
    "G1605": ("hosp", 10), "G1501": ("hosp", 8), "G1703": ("hosp", 6), "G1801": ("hosp", 5),
    "G1404": ("hosp", 3), "G1101": ("hosp", 2),
    # retail, food trades, sales
    "D1507": ("retail", 30), "D1106": ("retail", 20), "D1505": ("retail", 18), "D1214": ("retail", 12),
    "D1212": ("retail", 8), "D1211": ("retail", 4), "D1502": ("retail", 6), "D1301": ("retail", 3),
    "D1209": ("retail", 2), "D1504": ("retail", 2), "D1501": ("retail", 2),
    "D1102": ("food", 8), "D1101": ("food", 6), "D1104": ("food", 4), "D1103": ("food", 3),
    "D1202": ("food", 6), "D1208": ("food", 4),
    "D1401": ("sales", 8), "D1402": ("sales", 6), "D1403": ("sales", 10), "D1407": ("sales", 10),
    "D1408": ("sales", 8),
    # construction
    "F1703": ("constr", 18), "F1606": ("constr", 10), "F1704": ("constr", 12), "F1607": ("constr", 6),
    "F1604": ("constr", 6), "F1608": ("constr", 4), "F1613": ("constr", 3), "F1503": ("constr", 4),
    "F1302": ("constr", 6), "F1702": ("constr", 5), "F1301": ("constr", 2), "F1611": ("constr", 3),
    "F1602": ("renov", 15), "F1603": ("renov", 12), "F1610": ("renov", 3), "I1308": ("renov", 5),
    "I1306": ("renov", 3),
    "F1201": ("btp_cadre", 6), "F1202": ("btp_cadre", 4), "F1104": ("btp_cadre", 3), "F1106": ("btp_cadre", 2),
    "F1108": ("btp_cadre", 2),
    # industry
    "H2913": ("indus", 10), "H2902": ("indus", 8), "H2903": ("indus", 6), "H2906": ("indus", 6),
    "H2909": ("indus", 6), "H2102": ("indus", 8), "H2101": ("indus", 3), "H3302": ("indus", 10),
    "H3301": ("indus", 6), "H2301": ("indus", 3), "H2504": ("indus", 3), "H2602": ("indus", 3),
    "H2603": ("indus", 5), "H2605": ("indus", 3), "H3201": ("indus", 3), "H3203": ("indus", 2),
    "H3404": ("indus", 3), "H2911": ("indus", 4), "H2912": ("indus", 3), "H2206": ("indus", 5),
    "H2202": ("indus", 3), "H2205": ("indus", 2), "H2801": ("indus", 2), "H2201": ("indus", 2),
    "H2502": ("indus_tech", 2), "H1404": ("indus_tech", 3), "H1502": ("indus_tech", 3),
    "H1503": ("indus_tech", 2), "I1304": ("indus_tech", 12), "I1310": ("indus_tech", 6),
    "I1309": ("indus_tech", 5), "H1206": ("indus_tech", 2), "H1208": ("indus_tech", 2),
    "E1301": ("print", 2), "E1304": ("print", 1),
    "I1604": ("repair", 8), "I1606": ("repair", 3),
    # logistics and transport
    "N1103": ("logist", 35), "N1105": ("logist", 25), "N1101": ("logist", 20), "N1302": ("logist", 3),
    "N1301": ("logist", 3), "N1303": ("logist", 3), "N1102": ("logist", 2),
    "N4101": ("transport", 25), "N4105": ("transport", 15), "N4102": ("transport", 6), "N4103": ("transport", 5),
    "N4203": ("transport", 2), "N4104": ("transport", 2),
    # office, finance, IT
    "M1607": ("office_down", 12), "M1606": ("office_down", 1), "M1602": ("office", 15), "M1203": ("office", 10),
    "M1608": ("office", 4), "M1601": ("office", 6), "M1604": ("office", 5), "M1501": ("office", 4),
    "M1502": ("office", 3), "M1605": ("office", 2), "M1101": ("office", 2), "M1204": ("office", 2),
    "M1707": ("office", 3), "M1705": ("office", 2), "M1701": ("office", 3), "C1206": ("office", 3),
    "C1102": ("office", 3), "C1504": ("office", 4), "C1502": ("office", 2), "K1903": ("office", 1),
    "K1902": ("office", 1),
    "M1805": ("it", 10), "M1810": ("it", 4), "M1801": ("it", 4), "M1806": ("it", 3), "M1802": ("it", 2),
    # agriculture, forestry
    "A1401": ("wine", 5), "A1405": ("wine", 4), "A1402": ("agri", 6), "A1403": ("agri", 4),
    "A1101": ("agri", 4), "A1203": ("agri", 12), "A1414": ("agri", 3), "A1407": ("agri", 2),
    "A1416": ("agri", 1), "A1201": ("agri", 2), "A1205": ("agri", 1), "A1413": ("agri", 1),
    "A1501": ("agri", 1),
}

# Zone affinities (multipliers on the regional mix), by family or by code.
_MOSELLE_IND = ("4408", "4416", "4419", "4420", "4424")
_VOSGES = ("4407", "4414", "4417")
AFFINITY_FAMILY: dict[str, dict[str, float]] = {
    "wine": {"4413": 10.0, "4406": 28.0, "4425": 3.0, "4427": 1.5, "4402": 2.0, "4405": 7.0, "4422": 4.0,
             "4410": 1.0, "4412": 0.8, "*": 0.25},
    "agri": {"4402": 2.2, "4404": 2.0, "4415": 2.4, "4426": 2.0, "4401": 2.0, "4427": 1.8, "4419": 1.8,
             "4421": 1.6, "4423": 0.5, "4412": 0.6, "4410": 0.6, "*": 1.0},
    "indus": {**{z: 1.7 for z in _MOSELLE_IND + _VOSGES}, "4403": 1.7, "4421": 1.8, "4427": 1.6,
              "4404": 1.5, "4411": 1.4, "4409": 1.4, "4423": 0.7, "4413": 0.8, "*": 1.0},
    "logist": {"4410": 1.7, "4423": 1.3, "4413": 1.6, "4424": 1.5, "4411": 1.3, "4425": 1.2, "4418": 1.5,
               "4416": 1.4, "4402": 1.2, "*": 1.0},
    "it": {"4423": 2.0, "4412": 1.6, "4410": 1.3, "4413": 1.2, "4411": 1.1, "*": 0.45},
    "office": {"4423": 1.4, "4412": 1.3, "4410": 1.2, "*": 0.85},
    "hosp": {"4423": 1.3, "4405": 1.6, "4422": 1.3, "4406": 1.3, "4414": 1.4, "4417": 1.2, "*": 1.0},
    "health": {"4423": 1.2, "4412": 1.2, "4413": 1.1, "*": 1.0},
}
AFFINITY_CODE: dict[str, dict[str, float]] = {
    # wood industry and forestry: Vosges, Sarrebourg, Meuse
    **{c: {"4407": 2.5, "4414": 2.5, "4417": 3.0, "4419": 2.0, "4426": 1.4, "4401": 1.4, "*": 0.8}
       for c in ("H2206", "H2202", "H2205", "H2201", "A1201", "A1205")},
    "H2301": {"4416": 6.0, "4408": 2.5, "4411": 1.5, "*": 0.6},   # chemistry: Carling / Saint-Avold platform
    "H2801": {"4420": 4.0, "4419": 3.0, "4417": 2.0, "*": 0.5},   # glass and crystal
    "I1604": {"*": 1.0}, "F1610": {"4409": 1.3, "*": 1.0},
}

# Contracts: France Travail codes and the labels of the "Offres d'emploi v2" API.
CONTRACTS = ("CDI", "CDD", "MIS", "SAI")
CONTRACT_LABEL = {"CDI": "Contrat à durée indéterminée", "CDD": "Contrat à durée déterminée",
                  "MIS": "Mission intérimaire", "SAI": "Contrat travail saisonnier"}

# Training programmes per historic ROME code: (title, FORMACODE, NSF, months, usual start months).
# FORMACODE / NSF values are plausible codes of the right family, not checked against the referentials.
TRAININGS: dict[str, list[tuple[str, str, str, int, tuple[int, ...]]]] = {
    "J1501": [("DEAS - Diplôme d'État d'aide-soignant", "43436", "331t", 11, (9, 1))],
    "J1506": [("DEI - Diplôme d'État d'infirmier (IFSI)", "43448", "331t", 34, (9,))],
    "J1301": [("Titre professionnel Agent de service médico-social", "42052", "330t", 5, (3, 10))],
    "J1304": [("DEAP - Diplôme d'État d'auxiliaire de puériculture", "43409", "331t", 10, (9,))],
    "J1305": [("DEA - Diplôme d'État d'ambulancier", "43426", "331t", 4, (2, 9))],
    "J1307": [("BP Préparateur en pharmacie (apprentissage)", "43490", "331t", 24, (9,))],
    "M1609": [("Titre professionnel Secrétaire assistant médico-social", "35054", "324t", 8, (9, 2))],
    "K1302": [("Titre professionnel Assistant de vie aux familles (ADVF)", "42056", "330t", 6, (3, 9)),
              ("DEAES - Diplôme d'État d'accompagnant éducatif et social", "42061", "332t", 12, (9,))],
    "K1304": [("Titre professionnel Assistant de vie aux familles (ADVF)", "42056", "330t", 6, (4, 10))],
    "K1207": [("DEES - Diplôme d'État d'éducateur spécialisé", "44014", "332t", 34, (9,))],
    "K1202": [("DEEJE - Diplôme d'État d'éducateur de jeunes enfants", "44009", "332t", 34, (9,))],
    "K2111": [("Titre professionnel Formateur professionnel d'adultes", "44591", "333t", 8, (10,))],
    "G1203": [("BPJEPS Animation sociale", "15041", "335t", 12, (9,))],
    "K2110": [("Titre professionnel Enseignant de la conduite et de la sécurité routière", "31771", "311t", 8, (1,))],
    "K2204": [("Titre professionnel Agent de propreté et d'hygiène", "42872", "343t", 4, (2, 9))],
    "K2503": [("Titre professionnel Agent de sûreté et de sécurité privée", "42829", "344t", 3, (3, 10))],
    "I1203": [("Titre professionnel Agent d'entretien du bâtiment", "22454", "233s", 6, (10,))],
    "G1602": [("CAP Cuisine", "42752", "221s", 10, (9,)), ("Titre professionnel Cuisinier", "42752", "221s", 8, (1,))],
    "G1603": [("Titre professionnel Agent de restauration", "42745", "221s", 5, (2, 9))],
    "G1803": [("Titre professionnel Serveur en restauration", "42741", "334t", 6, (2,)),
              ("CAP Commercialisation et services en hôtel-café-restaurant", "42741", "334t", 10, (9,))],
    "G1501": [("Titre professionnel Employé d'étage en hôtellerie", "42708", "334t", 4, (3,))],
    "G1703": [("Titre professionnel Réceptionniste en hôtellerie", "42720", "334t", 7, (10,))],
    "D1507": [("Titre professionnel Employé commercial en magasin", "34566", "312t", 6, (3, 9))],
    "D1505": [("Titre professionnel Employé commercial en magasin", "34566", "312t", 6, (4, 10))],
    "D1106": [("Titre professionnel Vendeur conseil en magasin", "34582", "312t", 7, (9,))],
    "D1214": [("Titre professionnel Vendeur conseil en magasin", "34582", "312t", 7, (2,))],
    "D1102": [("CAP Boulanger", "21528", "221s", 12, (9,))],
    "D1101": [("CAP Boucher", "21518", "221s", 12, (9,))],
    "D1202": [("CAP Métiers de la coiffure (apprentissage)", "42615", "336t", 24, (9,))],
    "D1403": [("BTS Négociation et digitalisation de la relation client (alternance)", "34554", "312t", 24, (9,))],
    "D1407": [("Titre professionnel Technicien supérieur en négociation commerciale", "34554", "312t", 9, (10,))],
    "D1408": [("Titre professionnel Conseiller relation client à distance", "34588", "312t", 6, (3, 10))],
    "F1703": [("Titre professionnel Maçon", "22336", "232s", 8, (9, 2))],
    "F1602": [("Titre professionnel Électricien d'équipement du bâtiment", "22252", "255s", 8, (9, 3))],
    "F1603": [("Titre professionnel Installateur en thermique et sanitaire", "22694", "227s", 9, (9,))],
    "I1308": [("Titre professionnel Technicien d'installation en équipements de confort climatique", "22684", "227r", 9, (10,))],
    "F1606": [("Titre professionnel Peintre en bâtiment", "22427", "233s", 7, (10, 3))],
    "F1604": [("Titre professionnel Plaquiste", "22410", "233s", 6, (11,))],
    "F1704": [("POEC Ouvrier polyvalent du bâtiment", "22354", "230s", 3, (3, 10))],
    "F1302": [("Titre professionnel Conducteur d'engins de travaux publics", "31812", "231s", 5, (1, 9))],
    "F1607": [("Titre professionnel Menuisier poseur installateur", "22489", "234s", 8, (9,))],
    "H2913": [("Titre professionnel Soudeur", "23054", "254s", 7, (9, 3)),
              ("Titre professionnel Soudeur assembleur industriel", "23054", "254s", 6, (1,))],
    "H2902": [("Titre professionnel Chaudronnier", "23036", "254s", 8, (10,))],
    "H2903": [("Titre professionnel Technicien d'usinage assisté par ordinateur", "23084", "251s", 9, (9,))],
    "H2909": [("Titre professionnel Agent de fabrication industrielle", "31652", "200s", 5, (3, 10))],
    "H2102": [("Titre professionnel Conducteur d'installations et de machines automatisées", "31691", "201s", 7, (9,))],
    "H3302": [("CQP Conducteur de ligne de conditionnement", "31686", "250s", 4, (4,))],
    "I1304": [("BTS Maintenance des systèmes (alternance)", "31684", "250r", 24, (9,)),
              ("Titre professionnel Technicien de maintenance industrielle", "31684", "250r", 10, (10,))],
    "I1604": [("CAP Maintenance des véhicules option voitures particulières", "31823", "252s", 24, (9,)),
              ("Titre professionnel Mécanicien automobile", "31823", "252s", 9, (2,))],
    "N1103": [("Titre professionnel Agent magasinier", "31812", "311t", 5, (2, 9)),
              ("Titre professionnel Préparateur de commandes en entrepôt", "31812", "311t", 3, (5, 11))],
    "N1105": [("POEC Agent logistique polyvalent", "31812", "311t", 3, (4,))],
    "N1101": [("Titre professionnel Cariste d'entrepôt", "31854", "311t", 3, (1, 6))],
    "N4101": [("Titre professionnel Conducteur du transport routier de marchandises sur porteur", "31831", "311t", 4, (1, 5, 9))],
    "N4105": [("Titre professionnel Conducteur livreur sur véhicule utilitaire léger", "31830", "311t", 3, (3, 10))],
    "N4103": [("Titre professionnel Conducteur du transport en commun sur route", "31833", "311t", 3, (6,))],
    "M1607": [("Titre professionnel Secrétaire assistant", "35054", "324t", 8, (9, 2))],
    "M1602": [("Titre professionnel Employé administratif et d'accueil", "35066", "324t", 6, (3, 10))],
    "M1203": [("Titre professionnel Comptable assistant", "32663", "314t", 8, (9,)),
              ("BTS Comptabilité et gestion (alternance)", "32663", "314t", 24, (9,))],
    "M1805": [("Titre professionnel Développeur web et web mobile", "31054", "326t", 9, (10, 3))],
    "M1810": [("Titre professionnel Technicien d'assistance en informatique", "24231", "326r", 8, (9,))],
    "M1801": [("Titre professionnel Administrateur d'infrastructures sécurisées", "31006", "326t", 12, (9,))],
    "A1401": [("BPA Travaux de la vigne et du vin", "21046", "211s", 10, (11,)),
              ("Formation courte Taille et travaux de la vigne", "21046", "211s", 3, (11,))],
    "A1405": [("BPREA Responsable d'entreprise agricole - viticulture", "21046", "211s", 12, (9,))],
    "A1203": [("CAPA Jardinier paysagiste", "21354", "214s", 12, (9,)),
              ("Titre professionnel Ouvrier du paysage", "21354", "214s", 7, (2,))],
}

FINANCERS = (("2", "Conseil régional"), ("4", "France Travail"), ("5", "Entreprise"))

# Words for the synthetic company names.
SURNAMES = ("Martin", "Bernard", "Thomas", "Petit", "Richard", "Durand", "Muller", "Schmitt", "Meyer",
            "Weber", "Klein", "Fischer", "Hoffmann", "Wagner", "Schneider", "Becker", "Roth", "Lemaire",
            "Collin", "Mathieu", "Gérard", "Henry", "François", "Lambert", "Renaud", "Jacquot", "Didier",
            "Perrin", "Royer", "Marchal", "Georges", "Colin", "Humbert", "Noël", "Antoine", "Husson",
            "Barbier", "Boulanger", "Charpentier", "Vautrin")
COMPANY_PATTERNS: dict[str, tuple[str, ...]] = {
    "wine": ("Champagne {s}", "Champagne {s} & Fils", "Domaine {s}", "Vignobles {s}", "GAEC {s}"),
    "agri": ("EARL {s}", "GAEC des Prés {s}", "SCEA {s}", "Pépinières {s}", "Paysages {s}"),
    "hosp": ("Hôtel du Centre", "Restaurant Le {s}", "Brasserie {s}", "Auberge {s}", "Hôtel-Restaurant {s}"),
    "retail": ("Supermarché {z}", "{s} Distribution", "Hypermarché {z} Est", "Magasin {s}", "{s} Mode"),
    "food": ("Boulangerie {s}", "Boucherie {s}", "Maison {s}", "Salon {s}"),
    "sales": ("{s} Solutions", "Est Commerce {s}", "{s} Diffusion"),
    "constr": ("SARL {s} Bâtiment", "{s} Construction", "Entreprise {s} BTP", "{s} & Fils"),
    "renov": ("{s} Énergies", "{s} Électricité", "{s} Chauffage Sanitaire", "Rénov'{z}"),
    "btp_cadre": ("{s} Ingénierie", "Bureau d'études {s}", "{s} Travaux Publics"),
    "indus": ("{s} Industrie", "Métallerie {s}", "Usine {s} SAS", "{s} Plastiques", "Fonderie {s}"),
    "indus_tech": ("{s} Industrie", "{s} Mécanique", "{s} Automation"),
    "print": ("Imprimerie {s}", "{s} Graphique"),
    "repair": ("Garage {s}", "{s} Automobiles", "Carrosserie {s}"),
    "logist": ("{s} Logistique", "Plateforme {z} Logistique", "Entrepôts {s}"),
    "transport": ("Transports {s}", "{s} Express", "{s} Fret"),
    "health": ("Centre hospitalier de {z}", "Clinique Saint-{s}", "EHPAD Les Tilleuls", "EHPAD Les Charmilles",
               "Pharmacie {s}"),
    "care": ("ADMR {z}", "{s} Services à domicile", "Association d'aide à domicile de {z}"),
    "social": ("Association {s}", "Foyer {s}", "Centre social {z}", "Mairie de {z}"),
    "services": ("{s} Propreté", "{s} Sécurité", "{z} Services"),
    "office": ("Cabinet {s}", "{s} Conseil", "{s} Assurances", "Agence {s} Immobilier"),
    "office_down": ("Cabinet {s}", "{s} Conseil"),
    "it": ("{s} Numérique", "{s} Informatique", "Digital {z}"),
}
INTERIM = ("Intérim Est Emploi", "{z} Intérim", "Travail Temporaire {s}")
