// jhub-admin (courses/nbgrader_words): nbgrader's words in French, in a French JupyterLab or
// Formgrader. nbgrader 0.9's interface has no translation hook: its JupyterLab extension and its
// Formgrader write English text into the page. This script replaces each known text (exact
// words, or a pattern for texts with a name or a number in them) as it appears, inside
// nbgrader's own parts of the page only: a pupil's notebook, file names and the rest of
// JupyterLab are never touched. A text nbgrader changes in an upgrade stays in English (the
// catalogue's test, tests/nbgrader/test_nbgrader_words.py, finds it).
(function () {
    "use strict";
    var script = document.currentScript;
    var catalogueUrl = script.getAttribute("data-catalogue");
    var inFormgrader = script.getAttribute("data-page") === "formgrader";
    // Where nbgrader writes in JupyterLab's and Notebook's pages.
    var LAB_SCOPES = [
        "#nbgrader-assignment-list", "#nbgrader-course-list", "#formgrader", ".nbgrader-CreateAssignmentWidget",
        ".nbgrader-ErrorDialog", ".nbgrader-SuccessDialog", ".jp-Dialog", ".validate-button",
        ".nbgrader-NotebookPanelWidget", "#jp-mainmenu-nbgrader",
        ".lm-Menu-item[data-command^='nbgrader:']", ".lm-CommandPalette-item[data-command^='nbgrader:']",
        ".lm-TabBar-tab[data-id^='nbgrader']", ".lm-TabBar-tab[data-id='formgrader']",
        ".jp-Toolbar-item.validate-button", ".jp-ToolbarButtonComponent[data-command^='nbgrader:']",
        "#jp-main-statusbar"  // the current tab's title ("Assignments")
    ].join(",");
    // Create Assignment's toolbar of each cell: nbgrader's, though inside a cell.
    var NBGRADER_IN_CELLS = ".nbgrader-CellWidget";
    // In the Formgrader's own pages, everything but what a pupil wrote (the notebook shown for grading).
    var NOT_TRANSLATED = "script,style,textarea,pre,code,.cell .input_area,.output_area,.rendered_html,.CodeMirror,.highlight";
    var ATTRIBUTES = ["title", "placeholder", "aria-label", "data-original-title"];
    var words = null, patterns = [];

    function language() {
        if (!inFormgrader) { return document.documentElement.lang || ""; }
        try {  // the Formgrader inside JupyterLab (an iframe of the same origin) speaks JupyterLab's language
            if (window.parent !== window && window.parent.document.documentElement.lang) {
                return window.parent.document.documentElement.lang;
            }
        } catch (e) { /* another origin: the browser's language */ }
        return navigator.language || "";
    }

    function active() { return words !== null && /^fr\b/i.test(language()); }

    function translated(text) {
        var trimmed = text.trim();
        if (!trimmed) { return null; }
        var out = Object.prototype.hasOwnProperty.call(words, trimmed) ? words[trimmed] : null;
        for (var i = 0; out === null && i < patterns.length; i++) {
            var found = patterns[i][0].exec(trimmed);
            if (found) {
                out = patterns[i][1].replace(/\$(\d)/g, function (_, n) { return found[+n] || ""; });
            }
        }
        if (out === null || out === trimmed) { return null; }
        var at = text.indexOf(trimmed);  // keep the spaces around the words
        return text.slice(0, at) + out + text.slice(at + trimmed.length);
    }

    function inScope(element) {
        if (!element || !element.closest) { return false; }
        if (inFormgrader) { return !element.closest(NOT_TRANSLATED); }
        if (element.closest(NBGRADER_IN_CELLS)) { return !element.closest(NOT_TRANSLATED); }
        return element.closest(LAB_SCOPES) !== null && !element.closest(NOT_TRANSLATED + ",.jp-Cell,.jp-OutputArea");
    }

    function translateText(node) {
        var parent = node.parentElement;
        if (!inScope(parent)) { return; }
        var out = translated(node.nodeValue);
        if (out === null) { return; }
        // The English words stay on their element for scripts that look for them (view-feedback.js).
        if (parent.childNodes.length === 1) { parent.setAttribute("data-jha-en", node.nodeValue.trim()); }
        node.nodeValue = out;
    }

    function translateAttributes(element) {
        if (!inScope(element)) { return; }
        ATTRIBUTES.forEach(function (name) {
            var value = element.getAttribute(name);
            var out = value && translated(value);
            if (out) { element.setAttribute(name, out); }
        });
        var type = (element.getAttribute("type") || "").toLowerCase();
        if (element.tagName === "INPUT" && (type === "button" || type === "submit")) {
            var label = translated(element.value || "");
            if (label) { element.value = label; }
        }
    }

    function visit(node) {
        if (node.nodeType === Node.TEXT_NODE) { translateText(node); return; }
        if (node.nodeType !== Node.ELEMENT_NODE) { return; }
        translateAttributes(node);
        var texts = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
        for (var text = texts.nextNode(); text; text = texts.nextNode()) { translateText(text); }
        node.querySelectorAll("[title],[placeholder],[aria-label],[data-original-title],input").forEach(translateAttributes);
    }

    function translateAll() {
        if (!active()) { return; }
        visit(document.body);
        var title = document.title && translated(document.title);
        if (title) { document.title = title; }
    }

    // alert() and confirm() of the Formgrader's scripts say their sentence through the catalogue too.
    function wrapDialog(name) {
        var original = window[name];
        if (typeof original !== "function") { return; }
        window[name] = function (message) {
            var out = active() && typeof message === "string" ? translated(message) : null;
            return original.call(window, out === null ? message : out);
        };
    }

    function start(catalogue) {
        words = catalogue.words || {};
        patterns = (catalogue.patterns || []).map(function (p) { return [new RegExp(p[0]), p[1]]; });
        translateAll();
        new MutationObserver(function (records) {
            if (!active()) { return; }
            records.forEach(function (record) {
                if (record.type === "childList") { record.addedNodes.forEach(visit); }
                else if (record.type === "characterData") { translateText(record.target); }
                else { translateAttributes(record.target); }
            });
        }).observe(document.body, {childList: true, subtree: true, characterData: true,
                                   attributes: true, attributeFilter: ATTRIBUTES.concat(["value"])});
        // JupyterLab sets its language on <html lang> once its language pack is loaded.
        new MutationObserver(translateAll).observe(document.documentElement, {attributes: true, attributeFilter: ["lang"]});
    }

    if (inFormgrader) { wrapDialog("alert"); wrapDialog("confirm"); }
    fetch(catalogueUrl, {credentials: "same-origin"}).then(function (r) {
        if (!r.ok) { throw new Error(r.status + " " + r.statusText); }
        return r.json();
    }).then(start).catch(function (error) {
        console.warn("jhub-admin: nbgrader's words stay in English:", error);
    });
}());
