"""Generate the project's built-in sample catalog, ``core/sample_data/sample_catalog.csv``.

The service needs labelled product names to train its default model, and a fresh install has no
store data yet. This script writes a synthetic hardware-store catalog (columns ``category,name``)
so that a new install can train a useful default model out of the box.

Every name is assembled here from small tables of product families, brands, sizes, units and
pack sizes written for this project. Nothing is read from, or copied out of, any real store's
catalog. The names are deliberately messy the way real point-of-sale catalogs are: mostly
Mexican/Latin-American Spanish with about a fifth in English, mixed capitalisation,
abbreviations (``p/``, ``c/100``, ``Gde``), inch marks written several ways, dropped accents,
the odd doubled space, and some repeated rows. A name never appears under two categories.

The output is deterministic: the same ``--rows`` always produces a byte-identical file.

Usage::

    python scripts/generate_sample_catalog.py [--out PATH] [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

SEED = 20261126
DEFAULT_ROWS = 2000
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "core" / "sample_data" / "sample_catalog.csv"

# Rough shares of a mid-sized hardware store's assortment.
CATEGORY_SHARE = {
    "Plomería": 0.35,
    "Herramientas": 0.22,
    "Electricos": 0.18,
    "Ferretería": 0.11,
    "Aseo, Baños y Cocinas": 0.08,
    "Pinturas": 0.06,
}

ENGLISH_SHARE = 0.22  # share of newly written names that are in English
REPEAT_SHARE = 0.10  # chance that a row repeats an earlier name of the same category
ABBREVIATE_SHARE = 0.35  # Spanish names written with store abbreviations (p/, c/, Gde, ...)
INCH_VARIANT_SHARE = 0.12  # Spanish names writing 1/2" as 1/2 pulg, 1/2'', ...
DROP_ACCENT_SHARE = 0.25  # Spanish names typed without accents
DOUBLE_SPACE_SHARE = 0.04

CASE_STYLES = ("title", "as_is", "upper", "lower", "crude_title")
CASE_WEIGHTS = {"es": (40, 30, 15, 8, 7), "en": (55, 30, 8, 4, 3)}


class Family(NamedTuple):
    """A product family: name templates plus the slot values that fill them."""

    weight: int
    templates: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]


def options(text: str) -> tuple[str, ...]:
    """Split ``"a|b|"`` into ``("a", "b", "")``; an empty option makes the slot optional."""
    return tuple(text.split("|"))


def family(weight: int, templates: tuple[str, ...], **slots: str) -> Family:
    return Family(weight, templates, {key: options(value) for key, value in slots.items()})


# Slots available to every family (a family's own slot of the same name wins).
SHARED = {
    key: options(value)
    for key, value in {
        "inch_s": '1/2"|3/4"|1"|1/2"|3/4"',
        "inch": '1/2"|3/4"|1"|1-1/4"|1-1/2"|2"|1/2"|3/4"',
        "inch_l": '2"|3"|4"|6"|4"',
        "mm": "13 mm|19 mm|25 mm|32 mm|38 mm|50 mm|13mm|19mm",
        "mm_s": "13 mm|19 mm|25 mm|13mm|19mm",
        "en_in": "1/2 in.|3/4 in.|1 in.|1-1/4 in.|1-1/2 in.|2 in.|1/2 in|3/4 in|1-in",
        "en_in_s": "1/2 in.|3/4 in.|1/2 in|3/4 in|1 in.",
        "color": "negro|blanco|rojo|verde|azul|amarillo|gris|naranja",
        "pcol": "blanco|negro|rojo|azul|verde|amarillo|gris|beige|marfil|café|naranja|"
        "blanco ostión|arena|terracota|hueso|rojo óxido|verde bandera|azul rey|gris perla|"
        "chocolate|blanco mate|negro mate|crema|durazno|rosa mexicano|blanco puro|ocre",
        "color_en": "White|Black|Gloss Black|Flat Black|Red|Blue|Navy Blue|Gray|Beige|Ivory|"
        "Green|Yellow|Brown|Almond|Silver|Gold|Ultra White|Bright White|Antique White|Taupe",
        "pack": "c/100|c/50|(B-100)|(B-50)|bolsa c/100 pz|caja c/100|c/25 pzas|Blister c/10|"
        "c/10 pz|(B-25)|Blister c/6|pz|1 pza|c/100 pzas|",
        "acab_bano": "cromado|cromo|níquel satinado|acero inox|negro mate|blanco|dorado|"
        "acero inoxidable|",
        "lcol": "blanco|hueso|bone|negro|almendra|gris|blanco",
    }.items()
}

BRANDS = {
    "Plomería": options(
        "Coflex|Rotoplas|Nacobre|Tuboplus|Foset|Urrea|Amanco|Dica|Rugo|Truper|Aquaflex|"
        "Hidromex|Tangit|Oatey|Nibco|Plastiflow|Tigre|Iusa|Aquapro|Fluxa"
    ),
    "Herramientas": options(
        "Truper|Pretul|Urrea|Surtek|Stanley|Bosch|DeWalt|Makita|Milwaukee|Black+Decker|Santul|"
        "Fiero|Irwin|Ryobi|Kobrex|Toolcraft|Herraco|Mikels|Klein Tools|Austromex"
    ),
    "Electricos": options(
        "Volteck|Philips|Illux|Tecnolite|Argos|Condumex|Viakon|Square D|Bticino|Leviton|Eaton|"
        "Iusa|Steren|Sylvania|Osram|Lumenia|Voltmex|Hermex|Ledvance|Simon"
    ),
    "Ferretería": options(
        "Fiero|Hermex|Truper|Yale|Lock|Master Lock|Tesa|3M|Scotch|Resistol|Fischer|Tuk|Janel|"
        "Pegaduro|Fix|Tornimex|Sika|Pretul|Loctite|Ferromex"
    ),
    "Aseo, Baños y Cocinas": options(
        "Helvex|Foset|Rugo|Urrea|Coflex|Dica|Teka|Castel|Lamosa|American Standard|Moen|Vitromex|"
        "Aquaflex|Cato|Interceramic|Bañomex"
    ),
    "Pinturas": options(
        "Comex|Berel|Sherwin-Williams|Osel|Vinimex|Pintumex|Doal|Kolor|Prisa|Rust-Oleum|Behr|"
        "Fester|Thermotek|Pinturas Tonalli|Colorlux"
    ),
}
CLEANING_BRANDS = "Vileda|Scotch-Brite|Truper|Pretul|Limpiamax|Casa Bonita|Hogarín|Mr. Brillo|"
FASTENER_BRANDS = "Fiero|Hermex|Truper|Tornimex|Fischer|Fix|Pretul|Ferromex"
LOCK_BRANDS = "Yale|Lock|Master Lock|Hermex|Truper|Fiero|Tesa|Cerramex"
TAPE_BRANDS = "Tuk|Janel|3M|Scotch|Tesa|Truper|Pretul|Hermex|Fiero|Adhesa"
ADHESIVE_BRANDS = "Sika|Loctite|Pegaduro|Resistol|3M|Truper|Fiero|Hermex|Pretul"
ABRASIVE_BRANDS = "Fandeli|Truper|Austromex|3M|Fiero|Hermex|Pretul"

PLOMERIA_ES = (
    family(
        16,
        (
            "Tubo PVC {pvc} {inch} x {largo}",
            "Tubo de PVC {pvc} {mm} {largo} {brand}",
            "Tubo PVC {pvc} {mm} x {largo}",
            "TUBO PVC {inch} {pvc} {brand}",
            "Tubo pvc {pvc} {inch} tramo {largo}",
            "Tubo PVC sanitario {inch_l} x {largo} {brand}",
            "Tubo PVC {inch} {pvc}",
            "Tubo PVC {brand} {inch} {largo}",
        ),
        pvc="hidráulico|hidraulico RD-26|hidráulico RD-32.5|cédula 40|Ced. 40|ced 80|"
        "c/campana|s/campana|para cementar|ligero|RD 26|clase 7|hidráulico|sanitario|",
        largo="6 m|6 m|3 m|6 mts|1 m|6.10 m|tramo 3 m|x 6m",
    ),
    family(
        5,
        (
            "Tubo CPVC {inch_s} x {largo} {brand}",
            "Tubo CPVC agua caliente {mm_s} {largo}",
            "Tubería CPVC {inch_s} {cts} tramo {largo}",
            "Tubo de CPVC {mm_s} {cts}",
        ),
        largo="3 m|6 m|5.80 m|3.05 m",
        cts="CTS|SDR 11|SDR-11|",
    ),
    family(
        6,
        (
            "Tubo de cobre tipo {tipo} {inch} x {largo} {brand}",
            "Tubo cobre rígido tipo {tipo} {inch_s}",
            "Tubo de cobre flexible {inch_s} rollo {rollo}",
            "Tubo cobre tipo {tipo} {mm} x {largo}",
            "Tramo de tubo de cobre {tipo} {inch_s}",
        ),
        tipo="M|L|K|M|L",
        largo="6.10 m|3.05 m|6 m|3 m|1 m",
        rollo="15 m|15.24 m|7.5 m|30 m",
    ),
    family(
        16,
        (
            "Codo {mat} {ang} x {inch}",
            "Codo {ang} {mat} {inch} {brand}",
            "Codo de {mat} {inch} {ang}",
            "Tee {mat} {inch} {brand}",
            "Te {mat} {inch}",
            "Tee reducida {mat} {red}",
            "Cople {mat} {inch}",
            "Cople de {mat} {inch} {brand}",
            "Cople reparación {mat} {inch}",
            "Tapón {tap} {mat} {inch}",
            "Tapon capa {mat} {inch}",
            "Reducción bushing {mat} {red}",
            "Reduccion campana {mat} {red}",
            "Tuerca unión {mat} {inch}",
        ),
        mat="PVC|PVC hidráulico|CPVC|cobre|cobre a cobre|galvanizado|galv|bronce|"
        "PVC cédula 40|PVC ced 80|polipropileno|hierro|PVC|cobre",
        ang="90°|45°|90 grados|45 grados|90|45",
        tap="capa|macho|hembra|cachucha|registro|roscado|liso",
        red='3/4" x 1/2"|1" x 3/4"|1" x 1/2"|1-1/4" x 1"|1-1/2" x 1"|1-1/2" x 1-1/4"|'
        '2" x 1-1/2"|2" x 1"|1-1/4" x 3/4"|3/4" x 1/2"',
    ),
    family(
        6,
        (
            "Codo sanitario {ang} {inch_l} {brand}",
            "Yee sanitaria {inch_l}",
            "Yee sanitaria reducida {red}",
            "Yee doble sanitaria {inch_l} {brand}",
            "Tee sanitaria {inch_l} {brand}",
            "Coladera {col} {brand}",
            'Codo sanitario {ang} {inch_l} c/salida 2"',
            "Reducción sanitaria {red}",
            "Cople sanitario {inch_l}",
            "Tapón registro sanitario {inch_l}",
        ),
        ang="45°|90°|45 grados|90 grados|22.5°|45°",
        red='4" x 2"|4" x 3"|3" x 2"|6" x 4"',
        col='p/piso 2"|de piso 4"|c/rejilla 3"|redonda 2"|cuadrada 4"|azotea 4"|p/regadera|'
        'de pretil 4"',
    ),
    family(
        7,
        (
            "Conector {rosca} {mat} {inch}",
            "Conector de {mat} rosca {rosca2} {inch} {brand}",
            "Niple galvanizado {inch} x {niple}",
            "Niple {mat2} {inch} {niple}",
            "Adaptador {rosca} PVC {inch}",
            "Adaptador macho CPVC {inch_s}",
            "Conector cobre a {rosca2} {inch_s}",
            "Tuerca unión galvanizada {inch}",
            "Brida {mat2} {inch}",
        ),
        rosca="rosca interior|rosca exterior|macho|hembra|RI|RE|rosca int|rosca ext",
        rosca2="interior|exterior|macho|hembra",
        mat="cobre|PVC|CPVC|bronce|galv|cobre",
        mat2="galvanizado|negro|bronce|latón|cobre|galv",
        niple='corrido|1-1/2"|2"|3"|4"|6"|10 cm|15 cm',
    ),
    family(
        10,
        (
            "Válvula de esfera {vmat} {inch} {brand}",
            "Valvula esfera {inch} {rosca} {brand}",
            "Válvula de esfera PVC {inch} cementar",
            "Válvula check {check} {inch}",
            "Valvula de compuerta bronce {inch} {brand}",
            "Válvula de paso {inch_s} {brand}",
            "Llave de paso {llave} {inch_s} {brand}",
            "Llave de paso {inch_s} {rosca}",
            "Llave de nariz {inch_s} {brand}",
            "Llave de jardín {inch_s} {llave}",
            "Valvula de llenado p/tinaco {inch_s}",
            "Válvula eliminadora de aire {inch_s}",
        ),
        vmat="bronce|latón|PVC|cromada|de bronce|laton|acero inox",
        rosca="roscable|soldable|RI|cementar|rosca|p/soldar",
        check="columpio|resorte|vertical|bronce|PVC",
        llave="esfera|cuarto de vuelta|compuerta|bronce|cromada|de globo|tipo globo|1/4 vuelta",
    ),
    family(
        7,
        (
            "Manguera para jardín {inch_s} x {m} m {brand}",
            "Manguera reforzada {inch_s} x {m} m",
            "Manguera {mtype} {m} m {color}",
            "Manguera flexible p/{uso} {inch_s} x {cm} cm {brand}",
            "Manguera coflex p/{uso} {cm} cm",
            "Conector flexible {uso} {cm} cm {inch_s} x {inch_s}",
            "Manguera de nivel {m} m",
        ),
        m="10|15|20|25|30|50|100",
        mtype="reforzada|cristal|tricapa|uso rudo|trenzada|jardín|tejida",
        uso="lavabo|WC|boiler|tinaco|fregadero|calentador|lavadora|gas",
        cm="30|35|40|45|50|60|80|100",
    ),
    family(
        5,
        (
            "Cinta teflón {tw} x {tl} {brand}",
            "Cinta de teflón {tw} {tl}",
            "Cinta teflon {tl} {brand} {tpk}",
            "Teflón en cinta {tw} x {tl}",
            "Cinta sellarroscas teflón {tw}",
        ),
        tw='1/2"|3/4"|1"|12 mm|19 mm|13 mm',
        tl="6.6 m|10 m|13 m|15 m|20 m|260 plg|500 plg",
        tpk="|Blister|c/10|grande|chico",
    ),
    family(
        6,
        (
            "Pegamento para PVC {vol} {brand}",
            "Pegamento p/PVC {pvcg} {vol}",
            "Cemento p/tubería PVC {vol} {brand}",
            "Pegamento CPVC {vol} amarillo",
            "Limpiador p/PVC {vol}",
            "Soldadura {sold} carrete {g} {brand}",
            "Pasta para soldar {g2} {brand}",
            "Sellador de roscas {vol} {brand}",
            "Lija de tela p/cobre {lija}",
        ),
        vol="50 ml|100 ml|125 ml|250 ml|500 ml|946 ml|1 L|1/4 L|1/2 L|1 lt|4 oz|8 oz|16 oz",
        pvcg="transparente|azul|gris|secado rápido|alta presión|regular",
        sold="50/50|95/5|60/40|estaño|libre de plomo",
        g="450 g|1 lb|250 g|225 g|1/2 kg",
        g2="60 g|100 g|110 g|250 g|4 oz",
        lija='rollo 1-1/2"|1 m|5 m|grano 120',
    ),
    family(
        6,
        (
            "Tinaco {lit} L {brand} {tcolor}",
            "Tinaco bicapa {lit} lts {brand}",
            "Cisterna {cis} L {brand}",
            "Flotador p/tinaco {inch_s} {brand}",
            "Flotador eléctrico {fl}",
            "Multiconector p/tinaco {inch_s}",
            "Kit de instalación para tinaco {lit} L",
            "Tapa p/tinaco {lit} L",
            "Jarro de aire {inch_s}",
            "Bomba {bomba} {hp} HP {brand}",
            "Filtro p/tinaco {inch_s}",
            "Válvula de llenado c/flotador {inch_s}",
        ),
        lit="450|600|750|1100|1100|1200|2500|5000",
        tcolor="|negro|beige|blanco|gris",
        cis="1200|2800|5000|10000",
        fl="c/contrapeso|15 A|10 m cable|p/cisterna|sumergible",
        bomba="periférica|centrífuga|sumergible|presurizadora|p/agua",
        hp="1/2|1|3/4|1/4|1.5|2",
    ),
    family(
        3,
        (
            "Calentador de agua {cal} {lit} L {brand}",
            "Calentador de paso {gas} {lpm} L/min",
            "Boiler {cal} {lit} L {gas}",
            "Calentador solar {tubos} tubos {brand}",
        ),
        cal="de depósito|de paso|instantáneo|eléctrico|de rápida recuperación|",
        lit="38|40|60|80|110|150",
        gas="gas LP|gas natural|eléctrico|",
        lpm="6|9|11|13|16",
        tubos="10|12|15|18|20",
    ),
)

PLOMERIA_EN = (
    family(
        6,
        (
            "PVC Pipe {en_in} x {ft} ft",
            "PVC Pipe Sch 40 {en_in} x {ft} ft",
            "Schedule 40 PVC Pipe {en_in} {brand}",
            "CPVC Pipe {en_in_s} x {ft} ft",
            "Copper Pipe Type {tipo} {en_in_s} x {ft} ft",
            "PEX Tubing {en_in_s} x {roll} ft {pex}",
        ),
        ft="10|20|5|2|10",
        tipo="M|L|K",
        roll="100|300|50|25",
        pex="Red|Blue|White|",
    ),
    family(
        7,
        (
            "Copper Elbow {en_in} {deg}",
            "Copper {fit} {en_in_s} {brand}",
            "PVC {fit} {en_in} Slip",
            "PVC Elbow {en_in} {deg} Sch 40",
            "PVC {fit} {en_in} x {en_in_s}",
            "Brass {fit} {en_in_s} FIP",
            "Galvanized {fit} {en_in}",
            "Sanitary Tee {big} {brand}",
            "DWV Wye {big}",
        ),
        fit="Elbow|Tee|Coupling|Cap|Adapter|Reducer|Union|Nipple|Plug|Bushing",
        deg="90 Deg|45 Deg|90-Degree|45-Degree|90°",
        big="3 in.|4 in.|2 in.|4 in x 2 in",
    ),
    family(
        5,
        (
            "Ball Valve {en_in} {vend}",
            "Brass Ball Valve {en_in_s} {vend} {brand}",
            "PVC Ball Valve {en_in}",
            "Gate Valve {en_in} Brass",
            "Check Valve {en_in} {brand}",
            "Shut-Off Valve {en_in_s} Quarter Turn",
            "Hose Bibb {en_in_s}",
        ),
        vend="FIP|Full Port|Threaded|Sweat|Lead Free|Solder",
    ),
    family(
        4,
        (
            "Garden Hose {en_in_s} x {hft} ft {brand}",
            "Heavy Duty Garden Hose {hft} ft",
            "Faucet Supply Line {en_in_s} x {sl} in",
            "Toilet Supply Line {sl} in Braided",
            "Water Heater Connector {en_in_s} x {sl} in",
        ),
        hft="25|50|75|100",
        sl="12|16|20|24",
    ),
    family(
        4,
        (
            "Teflon Tape {en_in_s} x {tl} in",
            "Thread Seal Tape {tl} in {brand}",
            "PTFE Tape {en_in_s} {tpk}",
            "PVC Cement {oz} oz {brand}",
            "PVC Primer Purple {oz} oz",
            "CPVC Cement Orange {oz} oz",
            "Pipe Thread Sealant {oz} oz",
            "Lead-Free Solder 1 lb",
        ),
        tl="260|520|429|1429",
        oz="4|8|16|32",
        tpk="|2-Pack|3-Pack|10-Pack",
    ),
    family(
        3,
        (
            "Water Storage Tank {gal} gal {brand}",
            "Float Valve {en_in_s}",
            "Water Pump {hp} HP {pump}",
            "Tank Water Heater {gal} gal",
            "Sump Pump {hp} HP",
        ),
        gal="40|50|100|300|1000",
        hp="1/2|1|3/4|1/3",
        pump="Jet|Booster|Centrifugal|Submersible|Peripheral",
    ),
)

HERRAMIENTAS_ES = (
    family(
        16,
        (
            "Taladro {tal} {chuck} {w}W {brand}",
            "Taladro {tal} {brand} {chuck}",
            "Taladro inalámbrico {v}V {bat} {brand}",
            "Taladro atornillador inalambrico {v}V {brand}",
            "Taladro percutor {chuck} {w} W {vel}",
            "Kit taladro {v}V c/{n} accesorios {brand}",
            "Taladro rotomartillo {chuck} {w}W {brand}",
            "Taladro de banco {bench} {brand}",
            "Taladro {brand} {w}W {chuck} c/maletín",
            "Mini taladro {mini} {brand}",
            "Taladro industrial {chuck} {w}W {vel}",
        ),
        tal="percutor|eléctrico|industrial|reversible|inalámbrico|rotomartillo|de impacto|"
        "atornillador|percutor reversible|",
        chuck='3/8"|1/2"|13 mm|10 mm|1/4"',
        w="450|500|550|600|650|710|750|800|850|1050|1100",
        v="12|18|20|20|24|36",
        bat="1 batería|2 baterías|c/bateria 2 Ah|s/batería|solo herramienta|4.0 Ah|Li-ion|"
        "c/cargador",
        vel="vel. variable|velocidad variable|2 velocidades|reversible|VVR|",
        n="20|30|50|100|13|60",
        bench='5 vel.|12 vel.|1/3 HP|1/2 HP|16"|10"',
        mini="rotativo 130W|multiherramienta|c/40 acc.|135W|grabador",
    ),
    family(
        5,
        (
            "Rotomartillo {sds} {w}W {brand}",
            "Rotomartillo {sds} {j} J {brand}",
            "Rotomartillo inalámbrico {v}V {sds}",
            "Martillo demoledor {kg} kg {w}W",
            "Rotomartillo {brand} {w} W c/maletín",
        ),
        sds="SDS Plus|SDS-Plus|SDS Max|SDS plus 26 mm|24 mm|",
        w="550|650|800|850|1050|1500|1100",
        j="2.2|2.7|3|5|8",
        v="18|20|36",
        kg="5|10|15|30",
    ),
    family(
        8,
        (
            "Esmeriladora angular {disc} {w}W {brand}",
            "Esmeriladora {disc} {brand} {w} W",
            "Esmeriladora de banco {bank} {brand}",
            "Mini esmeriladora {disc} {w}W",
            "Esmeriladora inalámbrica {v}V {disc}",
            "Disco de corte {dmat} {disc} {brand}",
            "Disco {dtype} p/esmeriladora {disc}",
            "Sierra circular {saw} {w}W {brand}",
            "Caladora {w}W {brand} {vel}",
            "Lijadora {lij} {w}W",
            "Pulidora {disc} {w}W {brand}",
        ),
        disc='4-1/2"|4 1/2"|7"|9"|115 mm|5"|4"',
        w="600|700|720|750|820|850|900|1200|2000|2200|2400",
        bank='6"|8"|1/2 HP|1/3 HP|3/4 HP',
        v="18|20|12",
        dmat="metal|concreto|acero inox|diamante|p/metal|abrasivo",
        dtype="diamantado|desbaste|flap grano 80|corte fino|de corte|laminado",
        saw='7-1/4"|7 1/4"|10"|6-1/2"',
        vel="|vel. variable|orbital|pendular",
        lij="orbital|de banda|roto orbital|de palma|1/4 hoja",
    ),
    family(
        8,
        (
            "Desarmador {dtip} {dsize} {brand}",
            "Desarmador {dtip} {dsize} mango {mango}",
            "Juego de desarmadores {n} piezas {brand}",
            "Desarmador de caja {dtip} {dsize}",
            "Desarmador plano {dsize} {brand}",
            "Destornillador {dtip} {dsize}",
            "Desarmador de precisión {n} pzas",
            "Desarmador Phillips {ph} x {dsize} {brand}",
            "Desarmador matraca c/{n} puntas",
            "Puntas p/desarmador {dtip} c/{n}",
        ),
        dtip="plano|Phillips|cruz|de cruz|Torx|de golpe|electricista|estrella|punta imantada|"
        "aislado 1000V",
        dsize='1/8" x 4"|3/16" x 6"|1/4" x 6"|1/4" x 8"|5/16" x 8"|3"|4"|6"|8"|3/8" x 10"|'
        "6 mm x 150 mm",
        mango="acetato|bimaterial|ergonómico|de goma|cristal",
        n="6|7|8|10|12|18|24|31|32|40",
        ph="#1|#2|#3|PH1|PH2",
    ),
    family(
        7,
        (
            "Martillo {mtype} {oz} oz {brand}",
            "Martillo de {mtype} {oz} oz mango {mango}",
            "Martillo {oz} oz {mango} {brand}",
            "Marro {lb} lb mango {mango}",
            "Marro octagonal {lb} lb {brand}",
            "Mazo de hule {oz} oz {mcolor}",
            "Mazo de goma {mcolor}",
            "Martillo bola {oz} oz",
        ),
        mtype="uña|uña curva|uña recta|carpintero|de bola|bola|electricista|de peña|"
        "para tablaroca|",
        oz="8|12|13|16|16|20|22|24|28|32",
        mango="madera|fibra de vidrio|fibra|acero|antivibración|tubular|nogal|hickory",
        lb="2|3|4|6|8|10|12|16",
        mcolor="blanco|negro||",
    ),
    family(
        7,
        (
            "Pinza {ptype} {pin} {brand}",
            "Pinzas {ptype} {pin} mango {pmango}",
            "Pinza de {ptype} {pin}",
            "Juego de pinzas {n} pz {brand}",
            "Pinza {ptype} {pmm} mm",
            "Pinza pelacables {pin} {brand}",
            "Pinza de presión {pin} {pres}",
            "Tenaza {pin} {brand}",
        ),
        ptype="electricista|de corte|corte diagonal|punta|de punta larga|chofer|mecánico|"
        "de extensión|punta curva|pico de loro|ajustable|para anillos|multiusos",
        pin='6"|7"|8"|9"|10"|12"|5"',
        pmm="150|160|180|200|250",
        pmango="aislado|de goma|bimaterial|comfort grip|PVC",
        n="3|4|5|6",
        pres="mordaza curva|mordaza recta|tipo C|punta|",
    ),
    family(
        10,
        (
            "Llave combinada {mm} mm {brand}",
            "Llave combinada {frac} {brand}",
            "Juego de llaves combinadas {n} pz {unit}",
            "Llave perica {pin} {brand}",
            "Llave ajustable {pin} cromada",
            "Llave Stillson {stil} {brand}",
            "Llave stillson {stil} {smat}",
            "Llave para tubo {stil} {brand}",
            "Juego de llaves allen {n} pz {unit}",
            "Llave allen {mm} mm",
            "Llave de cruz {cruz}",
            "Matraca {dr} {brand}",
            "Juego de dados {dr} {n} piezas {brand}",
            "Llave española {mm} x {mm2} mm",
            "Llave de estrías {mm} mm",
            "Dado {dr} {mm} mm",
            "Llave de impacto {v}V {dr}",
            "Llave Torx T{torx}",
        ),
        mm="6|7|8|9|10|11|12|13|14|15|16|17|18|19|21|22|24|27|30|32",
        mm2="7|9|11|13|15|17|19|22",
        frac='1/4"|5/16"|3/8"|7/16"|1/2"|9/16"|5/8"|3/4"|7/8"|1"',
        n="6|7|8|9|10|11|12|14|20|24|40|94",
        unit="std|estándar|milimétricas|mm|SAE|std y mm|métricas|",
        pin='4"|6"|8"|10"|12"|15"|18"|24"',
        stil='8"|10"|12"|14"|18"|24"|36"|48"',
        smat="aluminio|hierro|hierro forjado|servicio pesado|",
        cruz="17x19x21x23|p/auto|4 vías|",
        dr='1/4"|3/8"|1/2"|3/4"|cuadro 1/2"|cuadro 3/8"',
        v="18|20|12",
        torx="10|15|20|25|27|30|40",
    ),
    family(
        9,
        (
            "Flexómetro {fm} m x {fw} mm {brand}",
            "Flexometro {fm}m {brand} {fcase}",
            "Flexómetro {fm} m {fcase}",
            "Cinta métrica {cm} m {cmat} {brand}",
            "Cinta de medir {cm} m {cmat}",
            "Nivel de burbuja {lvl} {lmat} {brand}",
            "Nivel {ltype} {lvl} {brand}",
            "Nivel torpedo {lvl9} {lmat}",
            "Nivel láser {laser} {brand}",
            "Escuadra {esq} {emat} {brand}",
            "Escuadra de carpintero {esq}",
            "Medidor láser {lm} m {brand}",
            "Calibrador vernier {vern} {brand}",
            "Plomada {plom} g",
            "Hilo para albañil {hilo} m",
            "Tiralíneas {tl} m c/gis",
        ),
        fm="3|5|5|8|7.5|10",
        fw="13|16|19|25|25|32",
        fcase="cinta acero|caja ABS|caja cromada|autobloqueo|magnético|doble freno|c/clip|",
        cm="15|20|30|50|100",
        cmat="fibra de vidrio|acero|fibra|cerrada|abierta|",
        lvl='9"|12"|18"|24"|36"|48"|60 cm|1 m|1.20 m',
        lvl9='9"|10"|230 mm',
        lmat="aluminio|magnético|plástico|uso rudo|de aluminio",
        ltype="aluminio|magnético|de mano|tubular|caja|albañil",
        laser="2 líneas|de líneas cruzadas|360°|autonivelante|verde|rojo",
        esq='8"|12"|16"|24"|30 cm',
        emat="acero|aluminio|metálica|de combinación|",
        lm="20|30|40|50|60|100",
        vern='6"|150 mm|8"|digital|12"',
        plom="100|200|300|400|500|600",
        hilo="50|100|150|200",
        tl="15|30",
    ),
    family(
        8,
        (
            "Segueta {sbi} {tpi} dientes {brand}",
            "Segueta {sbi} {tpi}D {pk}",
            "Hoja de segueta {tpi} dientes {sbi}",
            "Arco p/segueta {arco} {brand}",
            "Arco para segueta {arco}",
            "Serrucho {srr} {stype} {brand}",
            "Serrucho de costilla {srr}",
            "Serrucho p/tablaroca {srr2}",
            "Cúter {cut} {brand}",
            "Cutter {cut} c/{n} navajas",
            "Navajas p/cúter {cut} c/{n}",
            "Tijera p/lámina {tij} {brand}",
            "Cortatubo {ct} {brand}",
            "Cortador de azulejo {az} {brand}",
            "Sierra de arco {arco}",
        ),
        sbi="bimetálica|bimetalica|acero al carbón|flexible|HSS|alta velocidad",
        tpi="18|24|32|14",
        pk="|c/10|c/100|c/2|(B-10)|paquete c/5|Blister c/2",
        arco='12"|profesional|ajustable|tubular|alta tensión|10-12"|de aluminio',
        srr='14"|16"|18"|20"|22"|24"|26"',
        stype="p/madera|corte fino|corte recto|costilla|poda|triple filo|7 dientes/pulg|",
        srr2='6"|6-1/2"|punta',
        cut="18 mm|9 mm|25 mm|retráctil|metálico|profesional|uso rudo|autorretráctil",
        n="5|10|3|50|100",
        tij='10"|12"|corte recto|corte izquierdo|corte derecho|aviación',
        ct='1/8"-1-1/8"|3/16"-1-1/8"|p/PVC 1-5/8"|p/cobre|p/PVC 42 mm|p/PVC 2"',
        az='24"|40 cm|60 cm|16"|manual 50 cm',
    ),
    family(
        9,
        (
            "Broca {bmat} {bsize} {brand}",
            "Broca p/{buso} {bsize} {bmat}",
            "Broca {bmat} p/{buso} {bsize}",
            "Juego de brocas {bmat} {n} pzas {brand}",
            "Juego de brocas p/{buso} c/{n}",
            "Broca SDS Plus {bmm} x {blen} mm {brand}",
            "Broca sierra {sierra} {brand}",
            "Broca escalonada {esc}",
            "Broca pala {bsize}",
            "Broca para taladro {bsize} {bmat}",
            "Mandril p/taladro {chuck} {mandr}",
        ),
        bmat="HSS|acero rápido|cobalto|carburo|titanio|tungsteno|alta velocidad|"
        "punta de carburo|recubierta titanio",
        bsize='1/16"|1/8"|5/32"|3/16"|1/4"|5/16"|3/8"|7/16"|1/2"|3 mm|4 mm|5 mm|6 mm|8 mm|'
        "10 mm|12 mm|6mm|8mm",
        buso="concreto|metal|madera|vidrio|azulejo|mampostería|acero|usos múltiples",
        n="5|6|7|8|10|13|15|19|21|29|100",
        bmm="6|8|10|12|14|16|18|20|22",
        blen="110|160|210|260|310|450",
        sierra='1"|1-1/4"|1-1/2"|2"|2-1/2"|3"|bimetálica 2"|p/madera 7 pz',
        esc='4-12 mm|4-20 mm|1/4"-3/4"|4-32 mm|juego 3 pz',
        chuck='1/2"|3/8"|13 mm|10 mm',
        mandr="c/llave|sin llave|autoajustable|metálico|",
    ),
    family(
        6,
        (
            "Cincel {cin} {brand}",
            "Cincel plano {cinsize} x {cinlen}",
            "Cincel SDS {cinmm} mm",
            "Punzón {cinsize} {brand}",
            "Cepillo de alambre {cep} {brand}",
            "Cepillo de alambre p/taladro {cepsize}",
            "Cepillo de carpintero #{cpn} {brand}",
            "Lima {lima} {limsize} {brand}",
            "Juego de limas {n} pz",
            "Prensa {prensa} {psize} {brand}",
            "Tornillo de banco {psize}",
            "Remachadora {rem} {brand}",
            "Engrapadora {eng} {brand}",
            "Pistola p/silicón {pist}",
            "Pistola de calor {w}W {brand}",
        ),
        cin='3/4" x 12"|1" x 12"|1/2" x 6"|p/concreto|p/albañil|punta|corta fierro|de pecho',
        cinsize='1/2"|3/4"|1"|5/8"',
        cinlen='8"|10"|12"|14"',
        cinmm="14|18|20|22|25",
        cep="curvo|recto|tipo cepillo dental|c/mango|mango plástico|4 hileras|3 hileras|de latón",
        cepsize='3"|4"|2"|copa 3"|vástago 1/4"|circular',
        cpn="4|5|5-1/2|6|7|8",
        lima="plana|redonda|media caña|triangular|bastarda|musa|cuadrada",
        limsize='6"|8"|10"|12"',
        n="3|5|6|10",
        prensa="tipo C|tipo F|de sujeción rápida|esquinera|de banco|p/tubo",
        psize='2"|3"|4"|6"|8"|10"|12"|24"|36"',
        rem="pop|manual|de extensión|tipo tijera|uso rudo",
        eng="T50|tapicera|de mano|3 en 1|uso rudo|eléctrica",
        pist="esqueleto|uso rudo|reforzada|c/seguro|barras 7 mm|barras 11 mm|40W",
        w="1500|1800|2000",
    ),
    family(
        6,
        (
            "Brocha {broch} {cerda} {brand}",
            "Brocha de {broch} mango {bmango}",
            "Juego de brochas {n} pz",
            "Rodillo {rod} {felpa} {brand}",
            "Rodillo para pintar {rod} {felpa}",
            "Repuesto rodillo {rod} {felpa}",
            "Charola p/pintar {charola}",
            "Espátula {esp} {brand}",
            "Llana {llana} {brand}",
            "Cuchara de albañil {cuch} {brand}",
            "Extensión p/rodillo {ext} m",
        ),
        broch='1"|1-1/2"|2"|2-1/2"|3"|4"|5"|6"',
        cerda="cerda natural|cerda sintética|pelo de camello|nylon|cerda negra|mango madera|",
        bmango="madera|plástico|",
        rod='9"|4"|7"|9 pulg|mini 4"|18"',
        felpa='felpa 1/2"|felpa 3/8"|felpa 3/4"|poliéster|lana|microfibra|espuma|'
        "texturizador|antigota|",
        charola='9"|7"|plástico|metálica|c/rodillo',
        esp='2"|3"|4"|6"|flexible|rígida|acero inox|mango plástico',
        llana='dentada|lisa|de madera|de acero|esponja|10 x 28 cm|11" x 4-1/2"',
        cuch='8"|9"|10"|11"|12"|punta redonda|tipo Filadelfia',
        ext="1|1.5|2|3|4",
        n="3|4|5",
    ),
    family(
        7,
        (
            "Carretilla {carr} {carrm} {brand}",
            "Carretilla {carrft} llanta {llanta}",
            "Pala {pala} {brand} mango {pmango}",
            "Pala {pala}",
            "Pico {pico} {brand}",
            "Zapapico {pico}",
            "Rastrillo {rast} {brand}",
            "Barreta {barr} {brand}",
            "Bieldo {n} dientes",
            "Azadón {az} {brand}",
            "Tijera para podar {tij} {brand}",
            "Machete {mach} {brand}",
            "Hacha {hacha} lb",
            "Escalera {esc} {escm} {n2} peldaños",
        ),
        carr="5.5 ft3|6 ft3|4 ft3|90 L|reforzada|concretera|de jardín|grande",
        carrm="llanta neumática|llanta maciza|llanta sólida|acero|plástica|",
        carrft="5 ft3|6 ft3|7 ft3|2 ruedas",
        llanta="neumática|maciza|antiponchaduras|",
        pala="cuadrada|redonda|carbonera|jardinera|punta|plana|de punta|cuadrada T|"
        "redonda mango largo",
        pmango="largo|corto|madera|fibra de vidrio|en D|tipo T",
        pico="5 lb|2.5 kg|3.5 kg|mango madera|talachero|",
        rast="14 dientes|16 dientes|22 dientes|abanico|metálico|plástico|para hojas",
        barr='1" x 1.5 m|1.75 m|punta y pala|hexagonal 1.80 m|12 kg',
        n="3|4|5",
        az="mango madera|talacho|1 kg|2 lb|forjado",
        tij='8"|9"|24"|de 2 manos|tipo bypass|yunque|p/seto',
        mach='18"|20"|22"|24"|cañero|estándar',
        hacha="2|3.5|4|1.5",
        esc="tijera|de extensión|multiposiciones|doméstica|plegable",
        escm="aluminio|fibra de vidrio|acero|",
        n2="3|4|5|6|7|8|10|12",
    ),
)

HERRAMIENTAS_EN = (
    family(
        8,
        (
            "Cordless Drill {v}V {bat} {brand}",
            "Cordless Drill/Driver {v}V {chuck}",
            "Drill Driver Kit {v}V {brand}",
            "Hammer Drill {chuck} {amp} Amp {brand}",
            "Corded Drill {chuck} {amp}A",
            "Impact Driver {v}V {brand}",
            "Rotary Hammer SDS Plus {amp} Amp",
            "Angle Grinder {grind} {amp} Amp {brand}",
            "Circular Saw 7-1/4 in {brand}",
            "Jigsaw {amp} Amp Variable Speed",
            "Random Orbit Sander 5 in",
        ),
        v="12|18|20|20|40",
        bat="2 Batteries|Tool Only|2.0Ah Kit|Li-Ion|with Charger|Bare Tool|",
        chuck="1/2 in|3/8 in|1/2-in|3/8-in",
        amp="5|6|6.5|7|7.5|8|10",
        grind="4-1/2 in|4.5 in|5 in|7 in",
    ),
    family(
        8,
        (
            "Claw Hammer {oz} oz {hmat}",
            "Framing Hammer {oz} oz {brand}",
            "Rubber Mallet {oz} oz",
            "Screwdriver Set {n}-Piece {brand}",
            "Phillips Screwdriver #{ph} x {sd} in",
            "Flat Head Screwdriver {sd} in",
            "Adjustable Wrench {wr} in {brand}",
            "Pipe Wrench {pw} in {brand}",
            "Combination Wrench Set {n}-Piece {unit}",
            "Socket Set {dr} Drive {n}-Piece",
            "Hex Key Set {unit}",
            "Slip Joint Pliers {pl} in",
            "Needle Nose Pliers {pl} in {brand}",
            "Lineman's Pliers {pl} in",
            "Locking Pliers {pl} in",
            "Wire Stripper {brand}",
        ),
        oz="12|16|20|22|24|32",
        hmat="Fiberglass|Steel|Wood Handle|Hickory|Anti-Vibe|",
        n="6|8|10|11|12|20|40|65",
        ph="1|2|3",
        sd="3|4|6|8",
        wr="6|8|10|12|15",
        pw="10|14|18|24|36",
        unit="SAE|Metric|SAE/Metric|SAE & Metric|",
        dr="1/4 in|3/8 in|1/2 in",
        pl="6|7|8|9|10",
    ),
    family(
        6,
        (
            "Tape Measure {ft} ft {brand}",
            "Tape Measure {ft} ft x {tw} in",
            "Torpedo Level {lv} in",
            "Box Level {lv} in {brand}",
            "Laser Level {laser}",
            "Speed Square 7 in",
            "Framing Square 24 in",
            "Chalk Line Reel {cl} ft",
            "Hacksaw {hs} in {brand}",
            "Hacksaw Blades {tpi} TPI {hpk}",
            "Hand Saw {hs2} in",
            "Utility Knife {uk}",
            "Tin Snips {snip}",
            "Tubing Cutter {tc}",
        ),
        ft="16|25|25|30|35",
        tw="1|1-1/4|3/4",
        lv="9|12|24|48",
        laser="Cross Line|Self-Leveling|Green Beam|360 Degree",
        cl="50|100",
        hs="10|12",
        tpi="18|24|32",
        hpk="2-Pack|10-Pack|",
        hs2="15|20|22|26",
        uk="Retractable|Folding|Snap-Off 18 mm|Heavy Duty",
        snip="Straight Cut|Left Cut|Right Cut|Aviation",
        tc="1/8 in - 1-1/8 in|Mini|PVC|Copper",
    ),
    family(
        6,
        (
            "Drill Bit Set {n}-Piece {bmat}",
            "Masonry Drill Bit {bit} in",
            "Titanium Drill Bit {bit} in",
            "Hole Saw {hole} in {brand}",
            "Paint Brush {pb} in {pbt}",
            "Paint Roller {rl} in {nap}",
            "Putty Knife {pb} in",
            "Cold Chisel {ch} in",
            "Wire Brush {wb}",
            "Caulking Gun {cg}",
            "Heat Gun {hg}W",
            "Staple Gun {sg}",
        ),
        n="7|13|21|29|100",
        bmat="Titanium|Cobalt|Black Oxide|Masonry|HSS|",
        bit="1/8|3/16|1/4|5/16|3/8|1/2",
        hole="1|1-1/2|2|2-1/8|3",
        pb="1|1-1/2|2|3|4",
        pbt="Angled Sash|Flat|Polyester|Natural Bristle|Nylon|",
        rl="4|7|9|18",
        nap="3/8 in Nap|1/2 in Nap|3/4 in Nap|Foam|Microfiber|",
        ch="1/2|3/4|1",
        wb="Curved Handle|Straight|Brass|Stainless Steel",
        cg="Dripless|Heavy Duty|10 oz|Smooth Rod",
        hg="1500|1800|2000",
        sg="Heavy Duty|T50|Electric",
    ),
    family(
        4,
        (
            "Wheelbarrow {cu} cu ft {tire}",
            "Round Point Shovel {sh}",
            "Square Shovel {sh}",
            "Garden Rake {rk}",
            "Pick Mattock {pm} lb",
            "Pruning Shears {ps}",
            "Step Ladder {ld} ft {lmat}",
            "Extension Ladder {eld} ft",
            "Machete {mc} in",
        ),
        cu="4|5|6|6.5",
        tire="Pneumatic Tire|Flat-Free Tire|Steel Tray|Poly Tray|",
        sh="Long Handle|D-Handle|Fiberglass Handle|Wood Handle",
        rk="Leaf|Bow|Steel 14-Tine|Adjustable",
        pm="2.5|5",
        ps="Bypass|Anvil|Ratchet",
        ld="4|5|6|8",
        lmat="Aluminum|Fiberglass|",
        eld="16|20|24|28",
        mc="18|22|24",
    ),
)

ELECTRICOS_ES = (
    family(
        16,
        (
            "Foco LED {w} W {luz} {base} {brand}",
            "Foco LED {forma} {w}W luz {luz}",
            "Foco LED {w}W {v} {luz}",
            "Foco led {forma} {w} W {base} {brand}",
            "Foco LED {w}W equivalente a {eq}W {luz}",
            "Paquete {n} focos LED {w}W {luz} {brand}",
            "Foco LED {forma} {w}W {lm} lm {brand}",
            "FOCO LED {w}W {luz}",
            "Foco LED vela {w}W {base_v} {luz}",
            "Foco LED dimeable {w}W {luz} {brand}",
            "Foco LED {w}W {brand}",
            "Foco LED de emergencia {w}W recargable",
            "Foco LED inteligente wifi {w}W RGB {brand}",
            "Foco ahorrador {wc}W espiral {luz} {brand}",
            "Foco incandescente {wi}W {v} claro",
        ),
        w="5|6|7|8|9|9|10|12|13|14|15|18|20|30|40|50",
        luz="blanca|cálida|luz de día|fría|neutra|amarilla|blanca fría|6500K|3000K|2700K|"
        "4000K|luz cálida",
        base="E27|E26|GU10|MR16|E12|E-27|base media|",
        forma="A19|A60|A21|bulbo|PAR20|PAR30|PAR38|BR30|MR16|GU10|R63|globo G95|tubular|"
        "espiral|T5|",
        v="127V|120V|100-240V|85-265V|127 V|12V",
        eq="40|60|75|100|120|150",
        n="2|3|4|6|10|12",
        lm="450|600|806|800|1100|1600|1500|2000",
        base_v="E12|E14|candelabro",
        wc="13|15|20|23|25|45|65|85",
        wi="40|60|75|100",
    ),
    family(
        8,
        (
            "Lámpara LED {lamp} {w}W {luz} {brand}",
            "Lampara {lamp} {w} W {brand}",
            "Lámpara de techo {techo} {w}W",
            "Reflector LED {wr}W {ip} {brand}",
            "Reflector led {wr}W {luz} c/sensor",
            "Panel LED {panel} {w}W {luz}",
            "Luminario {lum} {w}W {brand}",
            "Tubo LED T8 {tl} {w}W {luz}",
            "Lámpara solar {sol} {brand}",
            "Lámpara de emergencia {em} LEDs",
            "Spot LED {spot} {w}W",
            "Arbotante {arb} {brand}",
            "Tira LED {tira} m {luz}",
        ),
        lamp="de empotrar|de sobreponer|slim|redonda|cuadrada|colgante|de buró|de escritorio|"
        "de pie|suburbana|",
        w="6|9|12|15|18|20|24|36|40|48",
        luz="blanca|cálida|luz de día|fría|neutra|6500K|3000K|4000K",
        techo="plafón|plafón LED|redonda|cuadrada|colgante|de cadena",
        wr="10|20|30|50|100|150|200",
        ip="IP65|IP66|exterior|negro|",
        panel='60x60|30x120|30x30|redondo 6"|cuadrado 8"',
        lum="industrial|suburbano|vial|tipo campana|high bay|hermético",
        tl="60 cm|120 cm|1.20 m|2 ft|4 ft",
        sol="p/jardín|c/panel|estaca|con sensor|de pared",
        em="30|60|90|2x",
        spot='GU10|MR16|de riel|dirigible|empotrable 3"',
        arb="de pared|exterior|farol|tortuga|de muro|negro",
        tira="2|5|10|3",
    ),
    family(
        12,
        (
            "Cable THW {cal} {ccol} {rollo} {brand}",
            "Cable THW-LS calibre {cal2} {ccol} rollo {rollo}",
            "Cable THHW-LS {cal} {ccol} {rollo}",
            "Cable duplex {dup} {rollo} {brand}",
            "Cable uso rudo {rudo} {rollo}",
            "Cable {cabm} {cal} por metro",
            "Cable coaxial {coax} {rollo} {coaxcol}",
            "Cable UTP Cat {cat} {rollo}",
            "Cable eléctrico {cal} {ccol} {rollo} {brand}",
            "Cable THW {cal} {ccol} por metro",
            "Alambre THW {cal} {ccol} {rollo}",
            "Cable desnudo {cal} {rollo}",
            "Cable POT {dup} {rollo}",
        ),
        cal="#8|#10|#12|#14|#16|#18|cal 12|cal. 14|calibre 10|cal 8|12 AWG|14 AWG|#12",
        cal2="8|10|12|14|6",
        ccol="negro|blanco|rojo|verde|azul|amarillo|gris|",
        rollo="100 m|50 m|75 m|20 m|10 m|rollo 100 m|caja 100 m|305 m|x metro|",
        dup="2x12|2x14|2x16|2x18|2 x 12|polarizado 2x16|calibre 16",
        rudo="2x12|3x12|3x14|2x16|3x16|4x10|2 x 14|3 x 10",
        cabm="THW|THHN|de cobre|multifilar|unifilar|de aluminio",
        coax="RG6|RG59|RG-6|RG6 c/mensajero",
        coaxcol="negro|blanco|",
        cat="5e|6|6A|5",
    ),
    family(
        10,
        (
            "Apagador sencillo {acol} {brand}",
            "Apagador {ap} {linea} {acol}",
            "Apagador de escalera {amp}A {acol} {brand}",
            "Apagador c/placa {acol} {brand}",
            "Contacto duplex {cont} {acol} {brand}",
            "Contacto {cont} {amp} A {v}",
            "Contacto sencillo {cont} {brand}",
            "Contacto GFCI {amp}A {brand}",
            "Placa {placa} {acol} {brand}",
            "Placa de {pm} {placa}",
            "Clavija {clav} {brand}",
            "Clavija {clav} {acol}",
            "Multicontacto {n} contactos {mc} {brand}",
            "Dimmer {dim} {brand}",
            "Contacto c/USB {usb} {acol}",
            "Socket {sock} {brand}",
            "Portalámpara {sock}",
        ),
        acol="blanco|marfil|negro|gris|aluminio|blanca|negra|color marfil|",
        ap="sencillo|doble|triple|de escalera|3 vías|de paso|de cadena|de palanca|iluminado|",
        linea="línea Modus|línea Quinziño|línea Lisa|línea Arquea|modular|decorativo|"
        "de sobreponer|",
        amp="10|15|20|30",
        cont="polarizado|aterrizado|duplex|sencillo|tierra aislada|grado hospital|uso rudo|"
        "polarizado aterrizado|",
        v="127V|125V|250V|127 V",
        placa="1 ventana|2 ventanas|3 ventanas|ciega|1 módulo|2 módulos|3 módulos|1 unidad|"
        "para contacto",
        pm="aluminio|acero inox|plástico|baquelita|policarbonato",
        clav="polarizada|uso rudo|aterrizada|blindada|2 polos|3 polos|giratoria|hembra|"
        "macho|plana|redonda",
        n="3|4|5|6|8",
        mc="c/supresor|c/interruptor|c/USB|uso rudo|regleta|de barra|",
        dim="giratorio|deslizable|600W|LED 150W|digital|",
        usb="2 puertos|2.1A|tipo C|3.4A",
        sock="porcelana|baquelita|de cadena|colgante|c/apagador|E27|de plástico|para pared|"
        "intemperie",
    ),
    family(
        6,
        (
            "Extensión {ext} {m} m {cal} {brand}",
            "Extension eléctrica {m} m {ecol}",
            "Extensión uso rudo {m} m {cal}",
            "Extensión {ecol} {m} m {n} contactos",
            "Extensión c/carrete {m} m {cal} {brand}",
            "Extension retractil {m} m",
        ),
        ext="doméstica|uso rudo|aterrizada|polarizada|exterior|de uso rudo|plana|",
        m="1.5|2|3|4|5|6|7|8|10|15|20|25|30|50",
        cal="cal 16|cal 14|cal 12|2x16|3x14|3x16|calibre 18|16 AWG|",
        ecol="blanca|café|naranja|negra|verde|amarilla|",
        n="1|3|2",
    ),
    family(
        8,
        (
            "Centro de carga {cpol} polos {brand}",
            "Centro de carga {cpol} espacios {ctipo} {brand}",
            "Centro de carga QO {cpol} {ctipo}",
            "Interruptor termomagnético {p}P {a}A {brand}",
            "Interruptor termomagnetico {p} polo {a} A {imnt}",
            "Pastilla termomagnética {p}P {a}A {imnt} {brand}",
            "Pastilla {p}x{a} {brand}",
            "Breaker {p}P {a}A",
            "Interruptor de seguridad {isw} {brand}",
            "Fusible {fus} {a}A {fpk}",
            "Fusible {fus} {a} A",
            "Portafusible {pf}",
            "Interruptor diferencial {p}P {a}A",
            "Supresor de picos {sp}",
            "Regulador de voltaje {reg} VA {brand}",
        ),
        cpol="1|2|3|4|6|8|12|16|20|24|30|42",
        ctipo="sobreponer|empotrar|monofásico|trifásico|c/puerta|c/zapata|",
        p="1|2|3|1|1|2",
        a="10|15|20|30|32|40|50|60|70|100",
        imnt="enchufable|atornillable|riel DIN|QO|QOB|",
        isw="2x30A|2x60A|3x30A|30A 2P|60A 240V|c/fusibles",
        fus="tipo cartucho|de vidrio|de tapón|cartucho 250V|tipo listón|NH|",
        fpk="|c/2|c/10|(B-10)|pz",
        pf="p/cartucho|de rosca|tipo cuchilla|30A|riel DIN",
        sp="6 contactos|8 contactos|c/USB|1800J|600J",
        reg="500|1000|1200|1300|2000|3000",
    ),
    family(
        10,
        (
            "Canaleta {can} {cacol} {clen} {brand}",
            "Canaleta c/adhesivo {can} {clen}",
            "Canaleta de PVC {can} tramo {clen}",
            "Tubo conduit {cond} {inch} {brand}",
            "Tubo conduit {cond} {inch} x 3 m",
            "Tubo conduit PVC {cpvc} {inch}",
            "Poliducto {pol} {inch_s} rollo {rl} m",
            "Poliducto naranja {inch_s} x {rl} m",
            "Caja chalupa {chal} {brand}",
            "Chalupa {chal} {chs}",
            "Caja cuadrada {cq} {chal}",
            "Caja registro {creg} {brand}",
            "Conector conduit {cond} {inch}",
            "Cople conduit {cond} {inch}",
            "Curva conduit {cond} {inch} 90°",
            "Monitor conduit {inch}",
            "Condulet {condu} {inch}",
            "Tapa p/caja chalupa {chal}",
        ),
        can="10 x 10 mm|13 x 7 mm|20 x 10 mm|20 x 12 mm|40 x 25 mm|60 x 40 mm|1 vía|2 vías|"
        "3 vías|TMK 1100",
        cacol="blanca|gris|marfil|",
        clen="2 m|2.4 m|1 m|3 m|",
        cond="pared delgada|pared gruesa|galvanizado|PD|PG|flexible|ligero|EMT|metálico",
        cpvc="ligero|pesado|ced 40|naranja",
        pol="naranja|c/guía|rígido|corrugado|flexible|",
        rl="10|25|50|100",
        chal='2x4"|4x4"|galvanizada|metálica|de PVC|plástica|PVC ligero|2 x 4|p/tablaroca',
        chs='galv|PVC|1/2"|',
        cq='4x4"|5x5"|de PVC|galvanizada|c/tapa',
        creg="10x10 cm|15x15 cm|20x20 cm|intemperie|IP65|c/tapa",
        condu="tipo LB|tipo T|tipo C|tipo LL|LR",
    ),
    family(
        6,
        (
            "Timbre {timb} {brand}",
            "Timbre inalámbrico {tin} {brand}",
            "Zumbador {zum}",
            "Sensor de movimiento {sens} {brand}",
            "Fotocelda {foto} {brand}",
            "Apagador c/sensor de movimiento {sens}",
            "Interruptor de tiempo {tt}",
            "Timer digital {tt}",
            "Conector de resorte {conec} {cpk}",
            "Terminal {term} {tcal} {cpk}",
            "Cincho plástico {cin} {cpk}",
            "Multímetro digital {mult} {brand}",
            "Probador de voltaje {prob}",
        ),
        timb="de campana|ding dong|musical|alámbrico|127V|c/transformador",
        tin="c/2 timbres|32 melodías|a prueba de agua|c/luz|largo alcance 100 m",
        zum="127V|12V|de botón|",
        sens="180°|360°|de techo|de pared|infrarrojo|c/fotocelda|",
        foto="127V|15A|10A|c/base|para alumbrado",
        tt="24 h|mecánico|digital semanal|127V 15A",
        conec="#12|#14|#18-#14|naranja|amarillo|rojo|gris|azul",
        cpk="c/100|c/50|c/25|bolsa c/100|(B-100)|c/10",
        term="de ojillo|de horquilla|tipo pala|de pin|tubular|aislada",
        tcal="#10|#12|#14|#16|cal 22-18|",
        cin="10 cm|15 cm|20 cm|25 cm|30 cm|40 cm|negro 20 cm|blanco 30 cm",
        mult="autorango|c/pinza amperimétrica|básico|profesional|600V",
        prob="sin contacto|tipo pluma|c/neón|de voltaje 90-1000V",
    ),
)

ELECTRICOS_EN = (
    family(
        9,
        (
            "LED Bulb {w}W {light}",
            "LED Light Bulb {shape} {eq}W Equivalent {light} {brand}",
            "LED Bulb {w}W {light} {pk}",
            "{brand} LED Bulb {shape} {w}W",
            "Dimmable LED Bulb {shape} {light}",
            "LED Flood Light {fw}W {ip}",
            "LED Panel Light 2x2 ft {w}W",
            "LED Tube T8 4 ft {w}W",
            "Smart LED Bulb Wi-Fi {shape}",
        ),
        w="5|6|8|9|9|10|12|14|15|18",
        light="Warm White|Daylight|Cool White|Soft White|Bright White|2700K|5000K|6500K",
        shape="A19|BR30|PAR38|A21|G25|Candelabra|MR16|GU10",
        eq="40|60|75|100",
        pk="4-Pack|2-Pack|6-Pack|12-Pack|",
        fw="20|30|50|100",
        ip="IP65|Outdoor|Motion Sensor|",
    ),
    family(
        6,
        (
            "Extension Cord {em} m {ecal}",
            "Extension Cord {eft} ft {ecal} {ecol}",
            "Outdoor Extension Cord {eft} ft",
            "Heavy Duty Extension Cord {eft} ft {ecal}",
            "Power Strip {n}-Outlet {ps}",
            "Surge Protector {n} Outlet {joules}J",
        ),
        em="1.5|2|3|3|5|10",
        ecal="16/3|14/3|12/3|16 AWG|",
        eft="6|10|15|25|50|100",
        ecol="Orange|White|Brown|Green|Black|",
        n="3|4|6|8|12",
        ps="with USB|Surge Protected|Heavy Duty|",
        joules="900|1800|2400|3000",
    ),
    family(
        8,
        (
            "Light Switch Single Pole {sc}",
            "3-Way Switch {sc} {brand}",
            "Duplex Outlet {ramp}A {sc}",
            "GFCI Outlet {ramp}A {sc}",
            "USB Outlet {ramp}A",
            "Wall Plate {gang}-Gang {sc}",
            "Dimmer Switch {dimw}",
            "Circuit Breaker {pole} {ba}A {brand}",
            "Load Center {sp} Space {ba}A",
            "Cartridge Fuse {ba}A {fpk}",
            "THHN Wire {awg} AWG {wcol} {wft} ft",
            "Romex Wire {awg}/2 {wft} ft",
            "Electrical Box {gang}-Gang {box}",
            "Wire Nuts {wpk}",
            "EMT Conduit {en_in_s} x 10 ft",
            "Wireless Doorbell {db}",
            "Motion Sensor Light {ms}",
            "Cable Ties {ct} in {ctpk}",
        ),
        sc="White|Ivory|Light Almond|Black|Gray|",
        ramp="15|20",
        gang="1|2|3",
        dimw="LED|600W|Slide|Rotary|Smart Wi-Fi",
        pole="1-Pole|2-Pole|Single Pole|Double Pole",
        ba="15|20|30|40|50|60|100",
        sp="8|12|20|24",
        fpk="2-Pack|10-Pack|",
        awg="10|12|14",
        wcol="Black|White|Red|Green|",
        wft="25|50|100|500",
        box="PVC|Metal|Old Work|New Work|Weatherproof",
        wpk="Assorted 100-Pack|Yellow 25-Pack|Orange 50-Pack|Red 100-Pack",
        db="Kit|Plug-In|Battery Operated|with 2 Buttons",
        ms="LED Dual Head|Solar|Security|",
        ct="4|8|11|14|24",
        ctpk="100-Pack|(100 pcs)|Black 50-Pack|",
    ),
)

FERRETERIA_ES = (
    family(
        12,
        (
            "Tornillo {cab} {ranura} {tm} {acab} {pack}",
            "Tornillo para madera {tm} {acab} {pack}",
            "Tornillo tablaroca {tm} {pack}",
            "Tornillo máquina {mq} {acab} {pack}",
            "Tornillo hexagonal {hx} {grado} {pack}",
            "Tornillo {cab} {tm} {pack} {brand}",
            "Tornillo autorroscante {tm} {acab}",
            "Tornillo coche {hx} {acab}",
            "Tornillo c/taquete {tq} {pack}",
        ),
        brand=FASTENER_BRANDS,
        cab="cabeza plana|cabeza redonda|cabeza de gota|cabeza hexagonal|cab. plana|"
        "cabeza oval|cabeza de coche|cabeza pan|cab redonda|",
        ranura="Phillips|ranurado|cuadro|Torx|combinado|",
        tm='6 x 1/2"|6 x 3/4"|6 x 1"|8 x 1"|8 x 1-1/2"|8 x 2"|10 x 1"|10 x 1-1/2"|10 x 2"|'
        '10 x 3"|12 x 2"|12 x 3"|14 x 3"|#8 x 1"|#10 x 2"|8 x 1-1/4"',
        acab="negro|zincado|galvanizado|latonado|pavonado|inoxidable|acero inox|Ne|Zn|"
        "cromado|bicromatado|",
        mq='1/8" x 1"|3/16" x 1"|1/4" x 2"|5/16" x 2"|M4 x 20|M5 x 30|M6 x 40|M8 x 50|3/16 x 2"',
        hx='1/4" x 1"|1/4" x 2"|5/16" x 1-1/2"|3/8" x 2"|3/8" x 3"|1/2" x 2"|1/2" x 4"|'
        '5/8" x 3"|3/4" x 6"|M8 x 40|M10 x 60',
        grado="grado 2|grado 5|grado 8|G5|G8|std|",
        tq='1/4"|5/16"|3/8"|6 mm|8 mm|10 mm',
    ),
    family(
        9,
        (
            "Pija {pij} {pm} {acab} {pack}",
            "Pija para {puso} {pm} {pack} {brand}",
            "Pija punta broca {pm} {acab} {pack}",
            "Taquete {tqm} {tq} {pack} {brand}",
            "Taquete de {tqm} {tq} c/pija {pack}",
            "Taquete expansivo {tqm} {tq}",
            "Ancla {ancla} {tq} {pack}",
            "Taquete mariposa {tq} p/tablaroca {pack}",
        ),
        brand=FASTENER_BRANDS,
        pij="cabeza plana|cab. plana|cabeza hexagonal|lámina|autotaladrante|punta broca|"
        "cabeza de gota|hex c/rondana|",
        pm='6 x 1/2"|6 x 1"|8 x 1"|8 x 1-1/2"|8 x 2"|10 x 1"|10 x 1-1/2"|10 x 2"|10 x 3"|'
        '12 x 1"|14 x 1"|14 x 2"|#8 x 3/4"|#10 x 1/2"',
        acab="zincada|negra|galvanizada|pavonada|inox|Zn|",
        puso="lámina|madera|tablaroca|concreto|aluminio|plástico",
        tqm="plástico|plastico|nylon|metálico|de plomo|fisher|ligero|tipo S|",
        tq='1/4"|5/16"|3/8"|6 mm|8 mm|10 mm|12 mm|1/2"|#6|#8|#10',
        ancla="expansiva|tipo camisa|de cuña|química|tipo tornillo|p/concreto|",
    ),
    family(
        9,
        (
            "Clavo {clavo} {cin} {ckg}",
            "Clavo {clavo} c/cabeza {cin} {ckg} {brand}",
            "Clavo p/concreto {cin} {ckg}",
            "Clavo de {clavo} {cin}",
            "Tuerca {tuerca} {ts} {pack}",
            "Tuerca de seguridad {ts} {pack}",
            "Tuerca mariposa {ts} {pack}",
            "Rondana {ron} {ts} {pack}",
            "Rondana de presión {ts} {pack} {brand}",
            "Arandela {ron} {ts} {pack}",
            "Varilla roscada {ts} x 1 m {vacab}",
            "Remache pop {rem} {pack}",
        ),
        brand=FASTENER_BRANDS,
        clavo="pulido|estándar|para concreto|sin cabeza|negro|galvanizado|de acero|"
        "para techo|cuadrado|",
        cin='1"|1-1/2"|2"|2-1/2"|3"|4"|5"|6"|1 1/2"|2 1/2"',
        ckg="25 kg|1 kg|1/2 kg|500 g|caja 25 kg|x kg|bolsa 1 kg|250 g|",
        tuerca="hexagonal|hex|de seguridad|ciega|castillo|cuadrada|estándar|",
        ts='1/4"|5/16"|3/8"|1/2"|5/8"|3/4"|M6|M8|M10|M12|#10',
        ron="plana|de presión|galvanizada|de neopreno|lisa|zincada|",
        vacab="galvanizada|zincada|std|grado 5|",
        rem='1/8" x 1/2"|5/32" x 1/2"|3/16" x 3/4"|4 x 10 mm|aluminio 1/8"',
    ),
    family(
        4,
        (
            "Grapa {gf} p/cable {gm} {gcol} {gpk}",
            "Grapa para cable {gf} {gm} {gpk}",
            "Grapa {gr} c/clavo {gm} {gpk}",
            "Grapas p/engrapadora {eg} {gpk2}",
        ),
        gf="curva|cuadrada|redonda|plana|tipo U|",
        gm="5 mm|6 mm|7 mm|8 mm|10 mm|12 mm|5x9mm|#14|#12|7mm",
        gcol="blanca|negra|gris|",
        gpk="bolsa c/100 pz|c/100|c/50|c/25|(B-100)|bolsa c/100|",
        gr="plástica|de plástico|metálica|redonda|",
        eg='T50 1/4"|T50 3/8"|T50 1/2"|6 mm|8 mm|10 mm|12 mm',
        gpk2="c/1000|c/1250|c/5000|caja c/1000",
    ),
    family(
        12,
        (
            "Bisagra {bis} {bsz} {bacab} {bpk}",
            "Bisagra para {buso} {bsz} {brand}",
            "Candado {cand} {cmm} mm {brand}",
            "Candado {cmat} {cmm} mm {cextra}",
            "Candado {cmat} {cnum} {cextra} {brand}",
            "Candado de combinación {ncomb} dígitos {brand}",
            "Cerradura {cerr} {brand} {cacab}",
            "Cerradura p/{cuso} {cacab} {brand}",
            "Chapa {chapa} {cacab} {brand}",
            "Chapa de {chapa} {brand}",
            "Cerrojo {cerrojo} {cacab}",
            "Cadena {cad} {cadm} {cadl}",
            "Cadena de {cad} {cadm} por metro",
            "Pasador {pasador} {bsz} {bacab}",
            "Jaladera {jal} {bacab}",
            "Manija {manija} {cacab} {brand}",
            "Porta candado {pc} {bacab}",
        ),
        brand=LOCK_BRANDS,
        bis="de libro|libro|tipo piano|de parche|oculta|cierre lento|de resorte|de cazoleta|"
        "tipo T|doble acción|",
        bsz='2"|2-1/2"|3"|3-1/2"|4"|5"|6"|35 mm|1 m',
        bacab="latonada|cromada|acero inoxidable|níquel satín|negra|galvanizada|zincada|"
        "bronce antiguo|",
        bpk="|par|c/2|juego 3 pzas|(B-2)|pza",
        buso="puerta|ventana|mueble|gabinete|portón|closet",
        cand="hierro|latón|laminado|acero|gancho largo|corto|de seguridad|de laton|",
        cmm="20|25|30|32|38|40|45|50|60|63|70",
        cmat="hierro|latón|laminado|acero|bronce|de laton|",
        cnum="102|103|104|113|114|40 mm|50 mm|60 mm",
        cextra="gancho largo|GL|gancho corto|caja|blister|llave maestra|c/2 llaves|3 llaves|",
        ncomb="3|4",
        cerr="de embutir|de sobreponer|de parche|electrica|de perilla|p/baño|de manija|barril|"
        "de seguridad|multipunto",
        cacab="latón brillante|cromo satinado|níquel|negro mate|bronce|acero inox|cromada|",
        cuso="baño|recámara|entrada|puerta principal|portón|clóset|mueble|cajón",
        chapa="perilla|manija|entrada|baño|recámara|pomo|doble llave|de seguridad|tubular|"
        "de sobreponer",
        cerrojo="de seguridad|doble|sencillo|de 1 cilindro|de 2 cilindros|p/puerta",
        cad="eslabón corto|eslabón largo|torzal|tipo barbada|galvanizada|acero|plástico|soldada|",
        cadm='1/8"|3/16"|1/4"|5/16"|3/8"|#10|#12|#16|4 mm|6 mm',
        cadl="por metro|rollo 20 m|x metro|rollo 30 m|",
        pasador="de barril|de sobreponer|de pasador|de resorte|de caja|",
        jal="p/cajón|de barra|de concha|de botón|de puerta",
        manija="de palanca|p/puerta|p/baño|p/recámara|entrada",
        pc="giratorio|fijo|de seguridad|",
    ),
    family(
        14,
        (
            "Cinta de embalaje {ecol} {edim} {brand}",
            "Cinta de embalaje {ecol} {edim}",
            "Cinta de embalaje {edim} {epk} {brand}",
            "Cinta de embalaje {uso} {ecol} {edim}",
            "Cinta embalaje {ecol} {edim}",
            "Cinta canela {edim} {brand}",
            "Cinta canela {edim} {epk}",
            "Cinta canela {uso} {edim} {brand}",
            "Cinta para empaque {ecol} {edim} {brand}",
            "Cinta p/empaque {ecol} {edim}",
            "Cinta adhesiva de empaque {ecol} {edim}",
            "Cinta para embalar {ecol} {edim} {epk}",
            "Despachador p/cinta de embalaje {desp}",
        ),
        brand=TAPE_BRANDS,
        ecol="transparente|canela|café|transp.|cristal|blanca|",
        edim='48 mm x 50 m|48 mm x 100 m|48 x 150 m|2" x 100 m|48mm x 150m|36 mm x 50 m|'
        '12 mm x 65 m|48 mm x 300 m|24 mm x 50 m|2" x 50 m|72 mm x 150 m',
        epk="|c/6|c/36|paquete 6 pzas|caja c/36|c/12|1 pza",
        uso="uso rudo|económica|silenciosa|industrial|alta adherencia",
        desp='2"|48 mm|de mano|metálico|c/freno',
    ),
    family(
        8,
        (
            "Cinta de aislar {acol} {adim} {brand}",
            "Cinta de aislar {adim} {apk}",
            "Cinta aislante {acol} {adim}",
            "Cinta doble cara {dc} {ddim} {brand}",
            "Cinta doble cara {ddim}",
            "Cinta gris ducto {ddim} {brand}",
            "Cinta antiderrapante {acol} {ddim}",
            "Cinta reflejante {acol} {ddim}",
            "Cinta de precaución {prec} {plen}",
        ),
        brand=TAPE_BRANDS,
        acol="negra|roja|azul|verde|blanca|amarilla|gris|",
        adim='19 mm x 18 m|19 mm x 9 m|19 mm x 20 m|18 mm x 18 m|3/4" x 60 ft|19mm x 18m|'
        "19 mm x 10 m",
        apk="|c/10|c/10 pz|Blister|caja c/10",
        dc="espuma|transparente|acrílica|montaje|uso rudo|",
        ddim='12 mm x 5 m|19 mm x 5 m|24 mm x 4.5 m|48 mm x 10 m|48 mm x 30 m|1" x 5 m|'
        '25 mm x 1.5 m|2" x 10 m',
        prec="precaución|peligro|no pasar|amarillo/negro",
        plen="100 m|300 m|200 m|30 m",
    ),
    family(
        10,
        (
            "Alambre recocido cal {acal} {akg} {brand}",
            "Alambre recocido {akg}",
            "Alambre galvanizado cal {acal} {akg}",
            "Alambre de púas cal {acal} rollo {alen}",
            "Abrazadera {abr} {absz} {brand}",
            "Abrazadera {abr} {absz} {bpk}",
            "Abrazadera omega {absz} {bpk}",
            "Silicón {sil} {sml} {brand}",
            "Silicon {sil} {scol} {sml}",
            "Silicón en barra {barra} {bpk}",
            "Sellador de silicón {sil} {scol} {sml}",
            "Pegamento {peg} {pml} {brand}",
            "Pegamento de contacto {pml} {brand}",
            "Adhesivo epóxico {epox} {brand}",
            "Pegamento instantáneo {g} g {brand}",
            "Resistol {resist} {pml}",
        ),
        brand=ADHESIVE_BRANDS,
        acal="16|18|14|12|17|20|10",
        akg="1 kg|5 kg|20 kg|bolsa 1 kg|rollo 1 kg|rollo 20 kg|1/2 kg|x kg",
        alen="200 m|300 m|250 m|400 m",
        abr="sin fin|sinfín|tipo uña|de uña|omega|tipo U|de oreja|uña p/conduit|de presión|",
        absz='1/2"|3/4"|1"|1-1/4"|2"|3"|4"|1/2" a 1"|3/4" a 1-1/4"|#8|#12|#16|#20|#24|#32|#40',
        bpk="|c/10|c/100|(B-10)|c/50|pz",
        sil="acético|neutro|multiusos|p/vidrio|alta temperatura|sanitario|antihongos|acrílico|",
        scol="transparente|blanco|negro|gris|",
        sml="280 ml|300 ml|85 g|50 g|70 ml|cartucho 280 ml|tubo 85 ml",
        barra="delgada|gruesa|7 mm|11 mm|kg|c/12",
        peg="blanco|de contacto|amarillo|epóxico|para madera|multiusos|instantáneo|transparente|",
        pml="30 ml|60 g|120 ml|250 ml|500 ml|1 L|1 kg|4 L|19 L|1/4 L|20 ml",
        epox="5 min|2 tubos|transparente|acero|25 ml|50 ml",
        g="2|3|5|10|20",
        resist="5000|850|blanco|amarillo",
    ),
    family(
        6,
        (
            "Gancho {gan} {gsz} {pack}",
            "Armella {arm} {asz} {pack}",
            "Alcayata {asz} {pack}",
            "Soporte p/repisa {rep} {rsz}",
            "Ménsula {rep} {rsz}",
            "Tensor {arm} {asz}",
            "Polea {pol} {psz}",
            "Lija de agua grano {grano} {brand}",
            "Lija para madera #{grano} {lpk}",
            "Lija de esmeril {grano}",
            "Malla mosquitera {malla} {mlen}",
            "Malla gallinera {mlen}",
            "Perfil ángulo {ang}",
        ),
        brand=ABRASIVE_BRANDS,
        gan="tipo S|tipo J|p/herramienta|doble|de pared|p/colgar|de seguridad|",
        gsz='1"|2"|3"|4"|6"|chico|mediano|grande',
        arm="cerrada|abierta|de gancho|c/ojo|",
        asz='1/4" x 2"|5/16" x 3"|#10|#12|#14|#16|3/8" x 4"',
        rep="de acero|reforzado|tipo L|blanco|negro|decorativo|",
        rsz='4" x 6"|6" x 8"|8" x 10"|10" x 12"|12" x 14"',
        pol='sencilla 2"|doble 3"|fija|giratoria|de nylon 1-1/2"',
        psz="chica|mediana|grande|",
        grano="60|80|100|120|150|180|220|320|400|600|1000",
        lpk="|c/10|c/50|pliego|rollo",
        malla="de aluminio|de fibra de vidrio|de nylon|gris|negra|",
        mlen="0.90 x 30 m|1.20 x 30 m|1 m x 30 m|por metro|rollo 30 m|1.50 x 25 m",
        ang='1/2" x 1/8"|3/4" x 1/8"|1" x 1/8"|1-1/2" x 3/16"|2" x 1/4"',
    ),
)

FERRETERIA_EN = (
    family(
        6,
        (
            "Wood Screw #{wn} x {wl} in ({wpk} pcs)",
            "Wood Screws #{wn} x {wl} in {wfin}",
            "Drywall Screws #{wn} x {wl} in {wpk}-Pack",
            "Deck Screws #{wn} x {wl} in {wfin}",
            "Sheet Metal Screw #{wn} x {wl} in",
            "Hex Bolt {bolt} {wfin}",
            "Hex Nut {nut} ({wpk} pcs)",
            "Flat Washer {nut} {wpk}-Pack",
            "Lock Washer {nut}",
            "Wall Anchors {anc} ({wpk} pcs)",
            "Common Nails {nail} {lb} lb",
            "Finish Nails {nail} {lb} lb",
        ),
        wn="6|8|10|12|14|8",
        wl="1/2|3/4|1|1-1/4|1-1/2|2|2-1/2|3|1-5/8",
        wpk="25|50|100|100|200|500",
        wfin="Zinc|Black Phosphate|Stainless Steel|Yellow Zinc|Coated|",
        bolt="1/4 in x 1 in|3/8 in x 2 in|1/2 in x 3 in|5/16 in x 1-1/2 in|M8 x 40 mm",
        nut="1/4 in|5/16 in|3/8 in|1/2 in|M6|M8|M10",
        anc="Plastic #8|Plastic #10|Toggle 1/8 in|Drywall Self-Drilling|Sleeve 3/8 in",
        nail="2 in|3 in|1-1/2 in|16d|8d|10d|6d",
        lb="1|5|1|50",
    ),
    family(
        6,
        (
            "Padlock {pmm} mm {pl} {brand}",
            "Padlock {pmm}mm Keyed Alike {n}-Pack",
            "Combination Padlock {pcomb}",
            "Laminated Steel Padlock {pmm} mm",
            "Door Hinge {hsz} in {hfin}",
            "Door Hinges {hsz} in {hfin} 3-Pack",
            "Entry Door Knob {hfin}",
            "Privacy Door Lever {hfin} {brand}",
            "Deadbolt {db} {hfin}",
            "Door Lock Set {hfin}",
            "Proof Coil Chain {cs} in x {cft} ft",
            "Barrel Bolt {hsz} in {hfin}",
        ),
        brand=LOCK_BRANDS,
        pmm="20|30|38|40|40|44|50|60",
        pl="Brass|Laminated Steel|Long Shackle|Weatherproof|",
        n="2|3|4",
        pcomb="3-Digit|4-Digit|Resettable|Black Dial",
        hsz="2|3|3-1/2|4",
        hfin="Satin Nickel|Polished Brass|Oil Rubbed Bronze|Matte Black|Zinc|Stainless|",
        db="Single Cylinder|Double Cylinder|Keyless|",
        cs="1/8|3/16|1/4|5/16",
        cft="10|20|50|100",
    ),
    family(
        6,
        (
            "Packing Tape {pcol} {ptd} {brand}",
            "Packing Tape {ptd} {pkp}",
            "Shipping Packing Tape {pcol} {ptd}",
            "Heavy Duty Packing Tape {pkp}",
            "Electrical Tape {ecol} {etd}",
            "Vinyl Electrical Tape {etd} {brand}",
            "Duct Tape {dcol} {dtd}",
            "Double Sided Tape {dtd}",
            "Mounting Tape {dtd} {brand}",
            "Caution Tape {ctl} ft",
        ),
        brand=TAPE_BRANDS,
        pcol="Clear|Tan|Brown|Crystal Clear|",
        ptd="1.88 in x 55 yd|2 in x 110 yd|48 mm x 50 m|1.88 in x 22.2 yd|2 in x 60 yd",
        pkp="6-Pack|2-Pack|with Dispenser|36 Rolls|",
        ecol="Black|Red|Blue|Green|White|",
        etd="3/4 in x 60 ft|3/4 in x 66 ft|19 mm x 20 m|3/4 in x 20 ft",
        dcol="Silver|Black|Gray|Clear|",
        dtd="1.88 in x 20 yd|1.88 in x 60 yd|1 in x 5 ft|1 in x 60 in|48 mm x 30 m",
        ctl="200|300|1000",
    ),
    family(
        4,
        (
            "Silicone Sealant {scol} {soz} oz",
            "100% Silicone Caulk {scol}",
            "Super Glue {sg}",
            "Epoxy Adhesive {ep}",
            "Wood Glue {wg} {brand}",
            "Construction Adhesive {soz} oz",
            "Hose Clamp {hc} {hcpk}",
            "Tie Wire {tw} Gauge {twl}",
            "Sandpaper {grit} Grit {spk}",
            "S-Hooks {shk}",
            "Eye Bolt {eb}",
        ),
        brand=ADHESIVE_BRANDS,
        scol="Clear|White|Black|Almond|",
        soz="2.8|5.5|9.8|10.1|10|28",
        sg="Gel 4 g|Liquid 2 g|Control 4 g|3-Pack",
        ep="5 Minute|Clear 1 oz|Steel 2 oz|Quick Set",
        wg="4 oz|8 oz|16 oz|1 gal",
        hc="#8|#12|#16|#20|#28|1/2 in - 1-1/4 in",
        hcpk="10-Pack|2-Pack|",
        tw="16|18|14",
        twl="3.5 lb|200 ft|Roll|",
        grit="60|80|120|150|220|320",
        spk="5-Pack|25-Pack|Sheet|",
        shk="2 in 10-Pack|3 in|4 in Heavy Duty",
        eb="1/4 in x 2 in|5/16 in x 4 in|3/8 in x 6 in",
    ),
)

ASEO_ES = (
    family(
        9,
        (
            "Regadera {reg} {acab_bano} {brand}",
            "Regadera {reg} {rsz} {brand}",
            "Regadera de {rtipo} {rsz} {acab_bano}",
            "Regadera eléctrica {rel} {brand}",
            "Regadera tipo lluvia {rsz} {acab_bano}",
            "Brazo para regadera {bl} {acab_bano}",
            "Regadera de mano c/manguera {acab_bano} {brand}",
            "Juego de regadera {jr} {brand}",
            "Maneral p/regadera {acab_bano}",
            "Kit de regadera {jr}",
        ),
        reg="fija|ajustable|tipo teléfono|cuadrada|redonda|de mano|ahorradora|de lluvia|"
        "económica|antisarro|5 funciones|3 funciones|",
        rsz='2"|3"|4"|6"|8"|10"|12"|20 cm|25 cm|30 cm',
        rtipo="lluvia|mano|muro|techo|teléfono",
        rel="4 temperaturas|3 temperaturas|127V 5500W|5400W|termostática|",
        bl="20 cm|30 cm|40 cm|de techo|de muro|curvo|",
        jr="c/manerales|completo|2 llaves|monomando|de 3 piezas|termostático",
    ),
    family(
        10,
        (
            "Mezcladora p/lavabo {mz} {acab_bano} {brand}",
            "Mezcladora para fregadero {mz} {acab_bano} {brand}",
            "Mezcladora monomando p/{mzuso} {acab_bano}",
            "Mezcladora de {mzuso} {mz} {brand}",
            "Mezcladora p/cocina c/manguera extraíble {acab_bano}",
            "Llave para lavabo {ll} {acab_bano} {brand}",
            "Llave individual p/lavabo {acab_bano}",
            "Llave p/fregadero {ll} {acab_bano}",
            "Llave economizadora {ll} {brand}",
            "Llave de empotrar p/{mzuso}",
            "Monomando p/lavabo {acab_bano} {brand}",
            "Llave mezcladora {mzsz} {mzuso}",
        ),
        mz='4"|8"|de 4"|de 8"|alta|baja|cuello de ganso|monomando|2 manerales|1 maneral|'
        "tipo cascada|temporizadora|",
        mzuso="lavabo|fregadero|cocina|tina|regadera|lavadero|bar",
        ll="temporizadora|individual|de palanca|de cruceta|de nariz|cuello de ganso|",
        mzsz='4"|8"|6"|',
    ),
    family(
        8,
        (
            "Céspol {ces} {cmat} {csz} {brand}",
            "Cespol p/{cuso} {csz} {cmat}",
            "Céspol {cmat} {csz}",
            "Contracanasta p/fregadero {ccmat}",
            "Cespol de bote {csz}",
            "Desagüe para lavabo {dsg} {acab_bano}",
            "Coladera p/fregadero {ccmat}",
            "Tapón p/lavabo {tap}",
        ),
        ces="flexible|de bote|tipo P|tipo S|cromado|de PVC|de latón|registrable|",
        cmat="PVC|polipropileno|latón|cromado|plástico|ABS|",
        csz='1-1/4"|1-1/2"|2"|32 mm|38 mm|40 mm|',
        cuso="lavabo|fregadero|lavadero|regadera|tina|doble tarja",
        ccmat="acero inox|cromada|plástica|inoxidable|de latón",
        dsg="push|c/rebosadero|sin rebosadero|automático|click clack",
        tap="de hule|push|universal|de silicón|c/cadena",
    ),
    family(
        6,
        (
            "Fregadero {freg} {fdim} {brand}",
            "Fregadero de acero inoxidable {fnum} {fdim}",
            "Tarja {tarja} {fdim} {brand}",
            "Tarja para cocina {fnum} {fmat}",
            "Lavadero {lav} {brand}",
            "Lavabo {lavabo} {lcol} {brand}",
            "Lavabo de sobreponer {lcol}",
            "Ovalín {lavabo} {lcol}",
            "Pedestal p/lavabo {lcol}",
        ),
        freg="1 tarja|2 tarjas|c/escurridor|de empotrar|de sobreponer|acero inox|granito|",
        fdim="80 x 50 cm|100 x 50 cm|120 x 52 cm|50 x 40 cm|84 x 48 cm|60 x 45 cm|",
        fnum="1 tarja|2 tarjas|tarja sencilla|doble tarja|1 tarja c/escurridor",
        tarja="sencilla|doble|granito|acero inox|de empotrar|de sobreponer|bajo cubierta",
        fmat="acero inox|granito|cerámica|inoxidable|",
        lav="de concreto|de plástico|c/tallador|60 x 60 cm|doble|de granito",
        lavabo="de pedestal|de sobreponer|de empotrar|ovalado|rectangular|redondo|"
        "de cerámica|de vidrio|",
    ),
    family(
        9,
        (
            "Sanitario {wc} {lcol} {lpf} {brand}",
            "WC {wc} {lcol} {brand}",
            "Inodoro {wc} {lpf}",
            "Taza p/WC {wctaza} {lcol}",
            "Tanque p/WC {lcol}",
            "Asiento p/WC {asi} {lcol} {brand}",
            "Asiento para WC {asi} {asm}",
            "Tapa p/WC {asi} {lcol}",
            "Kit de reparación p/WC {kit} {brand}",
            "Válvula de descarga p/WC {kit}",
            "Sapo p/WC {sapo}",
            "Palanca p/WC {palan}",
            "Cuello de cera p/WC {cera}",
            "Mingitorio {ming} {brand}",
        ),
        wc="one piece|una pieza|dos piezas|alargado|redondo|ahorrador|de descarga doble|"
        "elongado|compacto|infantil|",
        lpf="4.8 L|6 L|4.8 lpf|3/6 L|doble descarga|",
        wctaza="redonda|alargada|elongada|ahorradora",
        asi="redondo|alargado|elongado|cierre lento|acolchonado|infantil|universal|",
        asm="plástico|madera|polipropileno|acolchonado|MDF|",
        kit="universal|completo|de descarga|3 en 1|ahorrador",
        sapo='universal|de hule|2"|3"|c/cadena',
        palan="cromada|universal|lateral|frontal|plástica",
        cera="c/guía|sin guía|universal|reforzado",
        ming="ecológico|de pared|sin agua|c/fluxómetro",
    ),
    family(
        8,
        (
            "Toallero {toal} {tcm} cm {acab_bano} {brand}",
            "Toallero de {toal} {acab_bano}",
            "Jabonera {jab} {acab_bano} {brand}",
            "Portarrollo {prt} {acab_bano}",
            "Porta rollo p/papel higiénico {acab_bano}",
            "Gancho para toalla {gt} {acab_bano}",
            "Juego de accesorios para baño {n} piezas {acab_bano} {brand}",
            "Repisa p/baño {rep} {acab_bano}",
            "Espejo p/baño {esp}",
            "Botiquín {botiq}",
            "Cortina p/baño {cort}",
            "Barra de seguridad para baño {tcm} cm",
            "Dispensador de jabón {disp}",
            "Tapete para baño {tapete}",
        ),
        toal="de barra|de aro|de argolla|doble|de pared|de pie|",
        tcm="30|40|45|50|60|61|75",
        jab="de pared|de empotrar|de sobreponer|de esquina|de vidrio|",
        prt="de pared|de pie|c/tapa|doble|de empotrar|",
        gt="sencillo|doble|de puerta|",
        n="3|4|5|6",
        rep="de vidrio|de esquina|2 niveles|de acero|",
        esp="redondo|rectangular|c/luz LED|biselado 50 x 70 cm|60 cm",
        botiq="c/espejo|de sobreponer|de empotrar|blanco|",
        cort="vinil|poliéster|c/ganchos|transparente|estampada",
        disp="de pared|doble|automático|de acero inox",
        tapete="antiderrapante|de baño|de hule|microfibra",
    ),
    family(
        12,
        (
            "Escoba {esc} {brand}",
            "Escoba {esc} c/bastón {lcol2}",
            "Escoba de {esm} {lcol2}",
            "Trapeador {trap} {brand}",
            "Trapeador de {trm} {tsz}",
            "Mechudo {trap}",
            "Cubeta {cub} {cl} L {brand}",
            "Cubeta de {cubm} {cl} L {lcol2}",
            "Cubeta exprimidora {trap}",
            "Jerga {jerga}",
            "Jerga de algodón {jerga}",
            "Cepillo p/WC {cepw}",
            "Cepillo de {cepm} para {cepu}",
            "Recogedor {rec} {lcol2}",
            "Fibra {fib} {fpk} {brand}",
            "Franela {fran}",
            "Destapacaños {dest}",
            "Bote de basura {cl} L {bote}",
            "Jalador para piso {tsz} {brand}",
            "Guantes de látex p/limpieza {guan}",
        ),
        brand=CLEANING_BRANDS,
        esc="abanico|de mijo|de plástico|de cerda dura|angular|de jardín|de vara|"
        "de raíz|para exterior|",
        lcol2="roja|azul|verde|amarilla|gris|negra|",
        esm="mijo|plástico|raíz|vara|nylon",
        trap="de algodón|de microfibra|de tiras|giratorio|c/cubeta|industrial|de esponja|grande|",
        trm="algodón|microfibra|hilo|esponja|tiras",
        tsz="chico|mediano|grande|40 cm|60 cm|",
        cub="c/exprimidor|de plástico|de lámina|galvanizada|c/asa|graduada|",
        cl="10|12|15|19|20|60|100",
        cubm="plástico|lámina|metal|plastico",
        jerga="50 x 70 cm|60 x 80 cm|grande|chica|gruesa|blanca|gris|",
        cepw="c/base|de plástico|de silicón|redondo|",
        cepm="raíz|nylon|plástico|cerda dura",
        cepu="ropa|piso|uñas|baño|trastes|tallar",
        rec="c/mango|c/bastón|de lámina|de plástico|",
        fib="verde|esponja|multiusos|metálica|acero inox|p/trastes|",
        fpk="|c/3|c/6|paquete c/10|",
        fran="roja|blanca|gris|por metro|50 x 50 cm",
        dest="de hule|manual|de presión|tipo bomba|chico|grande",
        bote="c/tapa|c/pedal|de plástico|de acero inox|de vaivén|",
        guan="ch|med|gde|chico|mediano|grande|talla 8",
    ),
)

ASEO_EN = (
    family(
        6,
        (
            "Shower Head {sh} {fin}",
            "Rain Shower Head {rsz} in {fin}",
            "Handheld Shower Head {fin} {brand}",
            "Shower Arm {sa} in {fin}",
            "Kitchen Faucet {kf} {fin}",
            "Kitchen Faucet {fin} {brand}",
            "Bathroom Faucet {bf} {fin}",
            "Bathroom Sink Faucet {bf} {brand}",
            "Tub Spout {fin}",
        ),
        fin="Chrome|Brushed Nickel|Matte Black|Oil Rubbed Bronze|Stainless|Polished Chrome|",
        sh="Chrome|5-Setting|Fixed|Adjustable|Low Flow|High Pressure|",
        rsz="6|8|10|12",
        sa="6|10|16",
        kf="Pull-Down|Pull-Out|Single Handle|Two Handle|with Sprayer|Commercial|",
        bf="Centerset 4 in|Single Hole|Widespread 8 in|Single Handle|Two Handle|",
    ),
    family(
        5,
        (
            "Toilet Seat {ts} {tcol}",
            "Toilet Seat {ts} Slow Close {brand}",
            "Elongated Toilet {tcol} {gpf} GPF",
            "Round Toilet {tcol}",
            "Toilet Flapper {fl}",
            "Toilet Fill Valve {brand}",
            "Toilet Repair Kit {brand}",
            "Wax Ring {wr}",
            "P-Trap {ptr} in {ptm}",
            "Sink Strainer {ss}",
            "Kitchen Sink {ks} {fin}",
        ),
        ts="Round|Elongated|Padded|Plastic|Wood|",
        tcol="White|Bone|Biscuit|",
        gpf="1.28|1.6|1.1/1.6",
        fl="2 in|3 in|Universal|Adjustable",
        wr="with Flange|Reinforced|Extra Thick",
        ptr="1-1/4|1-1/2",
        ptm="PVC|Chrome|Plastic|",
        ss="Stainless Steel|Chrome|Basket|",
        ks="Single Bowl|Double Bowl|Drop-In|Undermount",
        fin="Stainless|Stainless Steel|Granite|",
    ),
    family(
        5,
        (
            "Towel Bar {tb} in {fin}",
            "Towel Ring {fin}",
            "Toilet Paper Holder {fin} {brand}",
            "Soap Dish {sd}",
            "Bathroom Accessory Set {n}-Piece {fin}",
            "Robe Hook {fin}",
            "Grab Bar {tb} in",
            "Shower Curtain Rod {rod}",
            "Medicine Cabinet {mc}",
        ),
        tb="18|24|30|36",
        fin="Chrome|Brushed Nickel|Matte Black|Oil Rubbed Bronze|",
        sd="Chrome|Wall Mount|Ceramic|Glass",
        n="3|4|5",
        rod="Tension 72 in|Curved|Straight 60 in",
        mc="with Mirror|Recessed|Surface Mount",
    ),
    family(
        5,
        (
            "Broom {br}",
            "Angle Broom {brand}",
            "Push Broom {pb} in",
            "Mop {mop}",
            "Spin Mop {brand}",
            "Bucket {bl} Qt",
            "Mop Bucket with Wringer",
            "Toilet Brush {tbr}",
            "Dust Pan {dp}",
            "Scrub Sponge {sp}",
            "Microfiber Cloth {mcf}",
            "Trash Can {tc} gal",
            "Plunger {pl}",
        ),
        brand=CLEANING_BRANDS,
        br="Angle|Corn|Outdoor|Indoor|with Dustpan|",
        pb="18|24|36",
        mop="Cotton|Microfiber|Sponge|String|Flat|",
        bl="10|12|14|20",
        tbr="with Holder|Compact|Silicone|",
        dp="with Handle|Plastic|Metal|",
        sp="3-Pack|6-Pack|Heavy Duty|Non-Scratch",
        mcf="12-Pack|24-Pack|Blue|",
        tc="4|8|13|32",
        pl="Toilet|Sink|Flange|Heavy Duty",
    ),
)

PINTURAS_ES = (
    family(
        14,
        (
            "Pintura vinílica {vin} {pcol} {pvol} {brand}",
            "Pintura vinilica {pcol} {pvol}",
            "Pintura vinil-acrílica {vin} {pcol} {pvol}",
            "Pintura {brand} {vin} {pcol} {pvol}",
            "Vinílica {vin} {pcol} {pvol} {brand}",
            "Pintura acrílica {vin} {pcol} {pvol}",
            "Pintura para {puso} {pcol} {pvol} {brand}",
        ),
        vin="mate|satinada|satinado|semibrillante|brillante|lavable|económica|premium|int/ext|"
        "interior|exterior|5 años|7 años|10 años|antibacterial|",
        pvol="1 L|4 L|19 L|1 gal|cubeta 19 L|galón|cubeta|1 lt|4 lt|19 lt|900 ml|3.785 L|750 ml",
        puso="tráfico|alberca|madera|metal|piso|concreto|techo|fachada",
    ),
    family(
        8,
        (
            "Esmalte {esm} {pcol} {pvol} {brand}",
            "Esmalte alquidálico {esm} {pcol} {pvol}",
            "Esmalte {pcol} {esm} {pvol}",
            "Esmalte anticorrosivo {pcol} {pvol}",
            "Esmalte para {euso} {pcol} {pvol} {brand}",
            "Pintura de esmalte {pcol} {pvol}",
        ),
        esm="brillante|mate|semimate|secado rápido|base agua|base aceite|alquidálico|"
        "multiusos|industrial|",
        pvol="1 L|4 L|19 L|1 gal|1/4 L|1/2 L|galón|250 ml|500 ml|1 lt",
        euso="metal|madera|herrería|tráfico|piso|",
    ),
    family(
        8,
        (
            "Pintura en aerosol {pcol} {aer} {aml} {brand}",
            "Aerosol {aer} {pcol} {aml}",
            "Pintura aerosol {pcol} {aml}",
            "Aerosol {brand} {pcol} {aer}",
            "Aerosol metálico {met} {aml}",
            "Aerosol p/{auso} {pcol} {aml}",
            "Aerosol primer {prc} {aml}",
        ),
        aer="brillante|mate|semimate|metálico|fluorescente|alta temperatura|satinado|",
        aml="400 ml|300 ml|340 g|285 g|400 cm3|12 oz|11 oz|",
        met="oro|plata|cobre|bronce|cromo|aluminio",
        auso="plástico|madera|metal|motor|rines|alta temperatura|vidrio",
        prc="gris|blanco|rojo óxido|negro",
    ),
    family(
        8,
        (
            "Impermeabilizante {imp} {iy} años {icol} {ivol} {brand}",
            "Impermeabilizante acrílico {iy} años {icol} {ivol}",
            "Impermeabilizante {imp} {icol} {ivol}",
            "Impermeabilizante fibratado {iy} años {ivol}",
            "Imper {imp} {iy} años {icol}",
            "Sellador p/impermeabilizante {ivol}",
            "Membrana de refuerzo {mem}",
            "Cemento plástico {ivol}",
        ),
        imp="acrílico|fibratado|elastomérico|asfáltico|térmico|prefabricado|base agua|cementoso|",
        iy="3|4|5|6|7|8|10|12|15",
        icol="blanco|rojo|terracota|gris|rojo óxido|",
        ivol="19 L|4 L|cubeta 19 L|1 gal|galón|20 kg|4 kg|1 L|19 lt",
        mem="1.10 x 100 m|1 x 50 m|rollo 100 m|poliéster 1.1 x 10 m",
    ),
    family(
        8,
        (
            "Sellador {sel} {svol} {brand}",
            "Sellador {sel} para {suso} {svol}",
            "Sellador vinílico {sconc} {svol}",
            "Primer {prim} {svol} {brand}",
            "Primario {prim} {svol}",
            "Fondo {fondo} {svol}",
            "Thinner {thin} {tvol} {brand}",
            "Thinner {thin} {tvol}",
            "Aguarrás {tvol}",
            "Barniz {barn} {bacab} {svol} {brand}",
            "Barniz p/{buso} {bacab} {svol}",
            "Tinta para madera {tcol} {svol}",
            "Removedor de pintura {svol}",
            "Laca {barn} {bacab} {svol}",
            "Solvente {solv} {tvol}",
        ),
        sel="vinílico|5x1|concentrado|acrílico|p/madera|reforzado|",
        suso="madera|muros|concreto|yeso|tablaroca|pisos",
        sconc="5x1|concentrado 5x1|reforzado|",
        svol="1 L|4 L|19 L|1 gal|250 ml|500 ml|946 ml|1/4 gal|cubeta 19 L|",
        prim="anticorrosivo|universal|multiusos|p/metal|p/galvanizado|gris|blanco|rojo óxido|",
        fondo="anticorrosivo|p/madera|blanco|gris",
        thin="estándar|americano|std|regular|industrial|",
        tvol="1 L|4 L|19 L|20 L|1 gal|galón|1/2 L|500 ml|200 L",
        barn="marino|poliuretano|al agua|base agua|transparente|entintado|nitrocelulosa|",
        bacab="brillante|mate|semimate|satinado|",
        buso="madera|piso|exterior|muebles|",
        tcol="caoba|nogal|cedro|maple|chocolate|roble|ébano|natural",
        solv="mineral|p/esmaltes|limpiador|",
    ),
    family(
        3,
        (
            "Cinta masking {mdim} {brand}",
            "Masking tape {mdim}",
            "Plástico para pintar {plas}",
            "Pasta {pasta} {pkg}",
            "Resanador {res} {pkg}",
            "Yeso {yeso} {pkg}",
        ),
        mdim='18 mm x 50 m|24 mm x 50 m|48 mm x 50 m|3/4" x 50 m|1" x 50 m|2" x 50 m',
        plas="4 x 5 m|3 x 4 m|protector|rollo 10 m",
        pasta="texturizada|fina|gruesa|p/tablaroca|para resanar|",
        pkg="1 kg|4 kg|19 L|cubeta 28 kg|bolsa 1 kg|20 kg|",
        res="p/madera|multiusos|p/muros|listo para usar",
        yeso="blanco|fino|construcción|",
    ),
)

PINTURAS_EN = (
    family(
        6,
        (
            "Spray Paint {fin} {color_en} {oz} oz",
            "{brand} Spray Paint {color_en} {fin}",
            "Spray Paint {color_en} {oz} oz",
            "High Heat Spray Paint {color_en}",
            "Metallic Spray Paint {met} {oz} oz",
            "Spray Primer {prc} {oz} oz",
        ),
        fin="Gloss|Flat|Satin|Semi-Gloss|Matte|Hammered|",
        oz="10|11|12|12|15",
        met="Gold|Silver|Copper|Chrome|Bronze",
        prc="Gray|White|Red Oxide|Flat Black",
    ),
    family(
        6,
        (
            "Interior Latex Paint {gal} {sheen} {color_en}",
            "Interior Latex Paint 1 gal {sheen}",
            "Exterior Paint {gal} {sheen} {color_en}",
            "Exterior Acrylic Paint {gal} {brand}",
            "Paint and Primer in One {gal} {sheen}",
            "Oil-Based Enamel {gal} {color_en}",
            "Floor Paint {gal} {color_en}",
        ),
        gal="1 gal|1 qt|5 gal|1 Gallon|Quart|5-Gallon",
        sheen="Flat|Eggshell|Satin|Semi-Gloss|Matte|Gloss|",
    ),
    family(
        5,
        (
            "Primer Sealer {gal} {brand}",
            "Concrete Sealer {gal}",
            "Wood Stain {stain} {qt}",
            "Polyurethane {fin} {qt}",
            "Paint Thinner {qt}",
            "Mineral Spirits {qt}",
            "Roof Coating {gal} {yr}-Year",
            "Elastomeric Roof Coating {gal} White",
            "Waterproofing Sealer {gal}",
            "Painter's Tape {ptape}",
            "Spackling Paste {sp}",
            "Lacquer Thinner {qt}",
        ),
        gal="1 gal|5 gal|1 Gallon|Quart",
        stain="Dark Walnut|Golden Oak|Cherry|Ebony|Natural|Red Mahogany",
        qt="1 qt|1 gal|1 Quart|32 oz|8 oz",
        fin="Gloss|Satin|Semi-Gloss|Clear Matte",
        yr="5|10|15|20",
        ptape="0.94 in x 60 yd|1.41 in x 60 yd|1.88 in x 60 yd|Multi-Surface|",
        sp="Lightweight 8 oz|1 qt|Interior/Exterior",
    ),
)

CATALOG: dict[str, dict[str, tuple[Family, ...]]] = {
    "Plomería": {"es": PLOMERIA_ES, "en": PLOMERIA_EN},
    "Herramientas": {"es": HERRAMIENTAS_ES, "en": HERRAMIENTAS_EN},
    "Electricos": {"es": ELECTRICOS_ES, "en": ELECTRICOS_EN},
    "Ferretería": {"es": FERRETERIA_ES, "en": FERRETERIA_EN},
    "Aseo, Baños y Cocinas": {"es": ASEO_ES, "en": ASEO_EN},
    "Pinturas": {"es": PINTURAS_ES, "en": PINTURAS_EN},
}

# Store abbreviations applied to some Spanish names (case-insensitive, whole words).
ABBREVIATIONS = (
    (r"\bpara\s+", "p/"),
    (r"\bcon\s+", "c/"),
    (r"\bgrande\b", "Gde"),
    (r"\bchic[oa]\b", "Ch"),
    (r"\bmediano\b", "Med"),
    (r"\bexterior\b", "Ext"),
    (r"\binterior\b", "Int"),
    (r"\bpiezas\b", "pzas"),
    (r"\bgalvanizad[oa]\b", "galv"),
    (r"\bcalibre\b", "cal"),
    (r"\bvelocidad\b", "vel"),
    (r"\binoxidable\b", "inox"),
)
INCH_MARK = re.compile(r'(?<=\d)"')
INCH_ALTERNATIVES = (" pulg", "''", " in", " plg", "in")
NO_ACCENTS = str.maketrans("áéíóúÁÉÍÓÚ", "aeiouAEIOU")
# Words that Title Case leaves lowercase: joiners and units.
KEEP_LOWER = (
    "de|del|la|el|y|a|en|con|para|por|x|of|in|mm|cm|m|ml|g|kg|lb|oz|lt|lts|mts|ft|gal|qt|pz|"
    "pza|pzas|lm|yd"
).split("|")
SLOT = re.compile(r"\{(\w+)\}")


def fill(template: str, slots: Mapping[str, tuple[str, ...]], rng: random.Random) -> str:
    """Replace every ``{slot}`` with a random option; options may contain slots themselves."""
    text = template
    for _ in range(3):
        text, count = SLOT.subn(lambda match: rng.choice(slots[match.group(1)]), text)
        if not count:
            break
    return " ".join(text.split())


def title_case(name: str) -> str:
    """Capitalise plain lowercase words, leaving units, codes and short joiners alone."""
    words = name.split(" ")
    return " ".join(
        word[:1].upper() + word[1:]
        if word.isalpha() and word.islower() and word not in KEEP_LOWER
        else word
        for word in words
    )


def apply_case(name: str, style: str) -> str:
    if style == "title":
        return title_case(name)
    if style == "upper":
        return name.upper()
    if style == "lower":
        return name.lower()
    if style == "crude_title":
        return name.title()
    return name


def roughen(name: str, lang: str, rng: random.Random) -> str:
    """Add the inconsistencies typical of hand-typed point-of-sale catalogs."""
    if lang == "es":
        if rng.random() < ABBREVIATE_SHARE:
            for pattern, short in ABBREVIATIONS:
                name = re.sub(pattern, short, name, flags=re.IGNORECASE)
        if rng.random() < INCH_VARIANT_SHARE:
            name = INCH_MARK.sub(rng.choice(INCH_ALTERNATIVES), name)
        if rng.random() < DROP_ACCENT_SHARE:
            name = name.translate(NO_ACCENTS)
    style = rng.choices(CASE_STYLES, weights=CASE_WEIGHTS[lang])[0]
    name = apply_case(name, style)
    if rng.random() < DOUBLE_SPACE_SHARE and " " in name:
        spaces = [i for i, char in enumerate(name) if char == " "]
        cut = rng.choice(spaces)
        name = name[:cut] + " " + name[cut:]
    return name


def new_name(category: str, rng: random.Random) -> str:
    lang = "en" if rng.random() < ENGLISH_SHARE else "es"
    families = CATALOG[category][lang]
    chosen = rng.choices(families, weights=[f.weight for f in families])[0]
    slots = ChainMap(chosen.slots, {"brand": BRANDS[category]}, SHARED)
    return roughen(fill(rng.choice(chosen.templates), slots, rng), lang, rng)


def category_quotas(rows: int) -> dict[str, int]:
    """Split ``rows`` across categories by CATEGORY_SHARE (largest remainder)."""
    exact = {category: rows * share for category, share in CATEGORY_SHARE.items()}
    quotas = {category: int(value) for category, value in exact.items()}
    leftover = rows - sum(quotas.values())
    by_remainder = sorted(exact, key=lambda c: exact[c] - quotas[c], reverse=True)
    for category in by_remainder[:leftover]:
        quotas[category] += 1
    return quotas


def generate(rows: int, rng: random.Random) -> tuple[list[tuple[str, str]], int]:
    """Return ``(category, name)`` rows and how many cross-category clashes were dropped."""
    schedule = [c for c, count in category_quotas(rows).items() for _ in range(count)]
    rng.shuffle(schedule)
    owner: dict[str, str] = {}
    written: dict[str, list[str]] = {category: [] for category in CATEGORY_SHARE}
    catalog: list[tuple[str, str]] = []
    dropped = 0
    for category in schedule:
        earlier = written[category]
        while True:
            if earlier and rng.random() < REPEAT_SHARE:
                # Store exports often list an item twice in a row, or again much later.
                name = earlier[-1] if rng.random() < 0.4 else rng.choice(earlier)
            else:
                name = new_name(category, rng)
            if owner.setdefault(name, category) == category:
                break
            dropped += 1  # same name already filed under another category
        earlier.append(name)
        catalog.append((category, name))
    return catalog, dropped


def write_csv(path: Path, catalog: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("category", "name"))
        writer.writerows(catalog)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV file to write")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="number of data rows")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")

    catalog, dropped = generate(args.rows, random.Random(SEED))
    write_csv(args.out, catalog)
    repeats = len(catalog) - len({name for _, name in catalog})
    print(
        f"wrote {len(catalog)} rows to {args.out} "
        f"({repeats} repeated names, {dropped} cross-category clashes dropped)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
