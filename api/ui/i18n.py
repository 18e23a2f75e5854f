"""The console's text in English and Spanish: English is the key, Spanish the translation.

A dictionary rather than gettext catalogs: two languages and a few dozen phrases need no
compile step. A phrase missing here shows in English.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = {"en": "English", "es": "Español"}

SPANISH = {
    "Product categorizer": "Categorizador de productos",
    "Skip to content": "Saltar al contenido",
    "Main": "Principal",
    "Import": "Importar",
    "Jobs": "Trabajos",
    "Review": "Revisión",
    "Models": "Modelos",
    "Try it": "Probar",
    "Sign in": "Entrar",
    "Sign out": "Salir",
    "Signed in as %(role)s": "Sesión como %(role)s",
    "admin": "administrador",
    "reviewer": "revisor",
    "Language": "Idioma",
    "API documentation": "Documentación de la API",
    # import
    "Import a catalog": "Importar un catálogo",
    "A CSV file with a name column (and optionally an id column), like the batch API takes.":
        "Un archivo CSV con una columna name (y, si se quiere, una columna id), como el que "
        "acepta la API de lotes.",
    "CSV file": "Archivo CSV",
    "Drop a CSV file here or choose one": "Suelta aquí un archivo CSV o elige uno",
    "Categorize": "Categorizar",
    "Uploading…": "Subiendo…",
    "The file was not accepted": "El archivo no fue aceptado",
    # jobs
    "Recent jobs": "Trabajos recientes",
    "Job": "Trabajo",
    "Kind": "Tipo",
    "State": "Estado",
    "Progress": "Progreso",
    "Created": "Creado",
    "Finished": "Terminado",
    "Duration": "Duración",
    "Model": "Modelo",
    "All": "Todos",
    "batch": "lote",
    "training": "entrenamiento",
    "queued": "en cola",
    "running": "en curso",
    "succeeded": "terminado",
    "failed": "fallido",
    "cancelled": "cancelado",
    "Filter": "Filtrar",
    "Previous": "Anterior",
    "Next": "Siguiente",
    "No jobs yet.": "Aún no hay trabajos.",
    "Sign in as admin to see training jobs.":
        "Entra como administrador para ver los trabajos de entrenamiento.",
    "%(done)s of %(total)s rows": "%(done)s de %(total)s filas",
    "%(rate)s rows/s": "%(rate)s filas/s",
    "The job failed: %(error)s": "El trabajo falló: %(error)s",
    "An admin cancelled the job before it ended: it has no results.":
        "Un administrador canceló el trabajo antes de que terminara: no tiene resultados.",
    "Results": "Resultados",
    "Download CSV": "Descargar CSV",
    "Decision": "Decisión",
    "Category": "Categoría",
    "Confidence": "Confianza",
    "Name": "Nombre",
    "Source": "Origen",
    "auto": "automática",
    "review": "revisión",
    "model": "modelo",
    "Minimum confidence": "Confianza mínima",
    "Maximum confidence": "Confianza máxima",
    "Sort": "Orden",
    "Input order": "Orden de entrada",
    "Least confident first": "Menos confiables primero",
    "Most confident first": "Más confiables primero",
    "Rows %(first)s–%(last)s of %(total)s": "Filas %(first)s–%(last)s de %(total)s",
    "No rows match.": "Ninguna fila coincide.",
    "Error": "Error",
    # try it
    "Type product names, one per line.": "Escribe nombres de productos, uno por línea.",
    "Product names": "Nombres de productos",
    "No model serves yet: train one first.": "Aún no hay modelo: entrena uno primero.",
    # models
    "Model versions": "Versiones del modelo",
    "Version": "Versión",
    "Aliases": "Alias",
    "Metrics": "Métricas",
    "Gate decision": "Decisión de la compuerta",
    "Shadow": "Sombra",
    "agreed on %(agreed)s of %(compared)s names":
        "coincidió en %(agreed)s de %(compared)s nombres",
    "on %(names)s labelled: champion right %(champion)s, challenger %(challenger)s":
        "en %(names)s etiquetados: acertó el campeón en %(champion)s, el retador en "
        "%(challenger)s",
    "did worse on labelled names": "lo hizo peor en nombres etiquetados",
    "Auto-file threshold": "Umbral de archivo automático",
    "Coverage": "Cobertura",
    "Champion": "Campeón",
    "Serving": "Sirviendo",
    "Promote": "Promover",
    "Roll back": "Revertir",
    "Confirm": "Confirmar",
    "Cancel": "Cancelar",
    "Make version %(version)s the champion?": "¿Hacer campeona la versión %(version)s?",
    "Roll back to the champion before version %(version)s?":
        "¿Volver al campeón anterior a la versión %(version)s?",
    "Train from an upload": "Entrenar con un archivo",
    "A catalog CSV with category and name columns.":
        "Un CSV de catálogo con columnas category y name.",
    "Train": "Entrenar",
    "Sign in as admin to train, promote or roll back.":
        "Entra como administrador para entrenar, promover o revertir.",
    "No model versions yet.": "Aún no hay versiones del modelo.",
    "Confusion matrix and reliability diagram": "Matriz de confusión y diagrama de fiabilidad",
    "No figures stored for this version.": "Esta versión no tiene figuras guardadas.",
    "Done: version %(version)s is the champion.": "Hecho: la versión %(version)s es la campeona.",
    "Training job queued.": "Trabajo de entrenamiento en cola.",
    "none": "ninguno",
    # sign in
    "API key": "Clave de API",
    "The reviewer or admin key. It is kept for this browser session only.":
        "La clave de revisor o de administrador. Se guarda solo durante esta sesión del "
        "navegador.",
    "That key is not valid.": "Esa clave no es válida.",
    "This page needs the admin key.": "Esta página necesita la clave de administrador.",
    # review
    "Review queue": "Cola de revisión",
    "Left": "Quedan",
    "Decided now": "Decididos ahora",
    "Accept": "Aceptar",
    "Skip": "Saltar",
    "Undo": "Deshacer",
    "Accept selected": "Aceptar seleccionados",
    "Select": "Seleccionar",
    "Proposed": "Propuesta",
    "Alternatives": "Alternativas",
    "Other category": "Otra categoría",
    "Type to search categories": "Escribe para buscar categorías",
    "Nothing left to review.": "No queda nada por revisar.",
    "Keys: 1–9 pick a category, Enter accepts, s skips, u undoes.":
        "Teclas: 1–9 eligen una categoría, Enter acepta, s salta, u deshace.",
    "Search categories": "Buscar categorías",
    "Something went wrong": "Algo salió mal",
}


def pick_language(accept_language: str) -> str:
    """The first supported language in an Accept-Language header, by weight; else English."""
    choices = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            choices.append((-weight, position, primary))
    return min(choices)[2] if choices else "en"


def translator(lang: str) -> Callable[..., str]:
    """`_("text", name=value)`: the phrase in `lang`, with %(name)s filled in."""
    table = SPANISH if lang == "es" else {}

    def translate(text: str, **values: object) -> str:
        phrase = table.get(text, text)
        return phrase % values if values else phrase

    return translate
