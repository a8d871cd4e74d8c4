"""The customer-service wording the sentiment model reads as features (inbox.sentiment_text):
negators, and phrases ("still waiting", "charged twice", "no reply", sarcasm...) per language,
each named after what it means so that the five languages share one weight per meaning.

Written from the label guideline and the training set (tests/data/sentiment_train.tsv), never
from the evaluation set. Patterns match the casefolded, NFKC-normalised text, where numbers
read `_num`, @handles `_user` and links `_url`."""

from __future__ import annotations

SENTIMENT_LANGUAGES = ("en", "nl", "fr", "de", "es")

# A negator marks the next few words (up to punctuation or "but") as negated: "not bad".
NEGATORS: dict[str, frozenset[str]] = {
    "en": frozenset({"not", "no", "never", "nobody", "nothing", "none", "nowhere", "neither",
                     "nor", "cannot", "without", "hardly"}),
    "nl": frozenset({"niet", "geen", "nooit", "niemand", "niets", "niks", "nergens", "zonder",
                     "nie"}),
    "fr": frozenset({"ne", "n", "pas", "jamais", "aucun", "aucune", "personne", "rien", "sans",
                     "ni", "plus"}),
    "de": frozenset({"nicht", "kein", "keine", "keinen", "keinem", "keiner", "nie", "niemals",
                     "niemand", "nichts", "ohne", "weder"}),
    "es": frozenset({"no", "nunca", "jamás", "nadie", "nada", "ningún", "ninguna", "ninguno",
                     "sin", "ni", "tampoco"}),
}
# "don't", "isn't"...: English negation glued to its verb.
NEGATED_SUFFIX = "n't"

# Words that end a negation's scope and start the clause the reader weighs most.
CONTRAST: dict[str, frozenset[str]] = {
    "en": frozenset({"but", "however", "though", "although", "yet"}),
    "nl": frozenset({"maar", "echter", "hoewel", "toch"}),
    "fr": frozenset({"mais", "cependant", "pourtant", "toutefois"}),
    "de": frozenset({"aber", "doch", "jedoch", "trotzdem", "allerdings"}),
    "es": frozenset({"pero", "aunque", "sino"}),
}

_THANKS = {"en": r"thanks|thank you|cheers|many thanks|thx",
           "nl": r"bedankt|dank je( wel)?|dank u( wel)?|dankjewel|merci|thanks",
           "fr": r"merci( beaucoup| d'avance)?",
           "de": r"danke( schön| sehr)?|vielen dank|merci",
           "es": r"gracias|muchas gracias|mil gracias"}

# Concept -> language -> regular expression (searched, not anchored).
PHRASES: dict[str, dict[str, str]] = {
    "still_waiting": {
        "en": r"\bstill (waiting|nothing|no\b|not\b|broken|down|haven't|hasn't|can't|isn't|"
              r"doesn't|don't|without|unresolved|charging|being charged)|\bwaiting (for|on) "
              r"\w+ (for )?(_num|two|three|four|five|six|several) (days|weeks|months)|"
              r"\b(days|weeks|months) (later|now) (and|but)",
        "nl": r"\b(wacht|wachten|wachtend) (nog steeds|nog altijd|al)\b|\bnog (steeds|altijd) "
              r"(niet|geen|niks|niets|kapot|storing|zonder|wachten|open)",
        "fr": r"\b(j'attends|attends|attendons|attend) (toujours|encore|depuis)|\btoujours "
              r"(pas|rien|aucun|aucune|sans|en panne|en attente|bloqué)",
        "de": r"\b(warte|warten|wartet) (immer noch|noch immer|seit|schon)|\b(immer noch|noch "
              r"immer|nach wie vor) (nicht|kein|keine|nichts|kaputt|ohne|gestört)",
        "es": r"\b(sigo|seguimos|sigue) (esperando|sin|igual)|\b(todavía|aún|aun) (no|nada|sin|"
              r"espero|esperando|sigo)|\btodavía nada\b",
    },
    "charged_twice": {
        "en": r"\b(charged|billed|debited|taken) (me )?(twice|two times|double)|"
              r"\bdouble[- ](charged|billed|charge|billing|payment)",
        "nl": r"\b(dubbel|twee keer|twee maal) (afgeschreven|betaald|gefactureerd|"
              r"aangerekend|in rekening)",
        "fr": r"\b(débité|débitée|prélevé|prélevée|facturé|facturée|payé)s? (deux fois|en "
              r"double)|\bdouble (prélèvement|facturation|débit)",
        "de": r"\b(doppelt|zweimal|zwei mal) (abgebucht|berechnet|belastet|bezahlt|"
              r"in rechnung)|\bdoppelbuchung|\bdoppelte (abbuchung|belastung)",
        "es": r"\b(cobrado|cobraron|cobrasteis|cobrado|cargado|cargaron)\w* (dos veces|doble)|"
              r"\b(doble|dos) (cobro|cargo|cobros|cargos)|\bcobro duplicado",
    },
    "no_reply": {
        "en": r"\bno (reply|response|answer|one (has )?(replied|answered|called|got back|"
              r"came|turned up)|callback|word)|\bnobody (has )?(replied|answered|called|got "
              r"back|came|turned up|told)|\bnever (heard|got back|replied|called|came)|"
              r"\b(haven't|hasn't) (heard|had a reply|had an answer|replied|called)|"
              r"\bignored|\bghosted",
        "nl": r"\bgeen (reactie|antwoord|enkele reactie|bericht|terugkoppeling)|\bniemand "
              r"(reageert|belt|heeft|komt|kwam)|\bnooit (teruggebeld|gereageerd|iets gehoord)|"
              r"\bniks (meer )?gehoord|\bniets (meer )?gehoord",
        "fr": r"\b(aucune|pas de|sans|jamais de) (réponse|nouvelles|retour|rappel)|\bpersonne "
              r"(ne|n'est|n'a)|\bjamais (rappelé|répondu)|\bne répond",
        "de": r"\bkeine (antwort|rückmeldung|reaktion|nachricht|info)|\bniemand (meldet|"
              r"ruft|antwortet|kam|ist gekommen|hat)|\bnie (zurückgerufen|geantwortet|"
              r"gemeldet)|\bnichts (mehr )?gehört",
        "es": r"\b(ninguna|sin|ni una) (respuesta|noticia|noticias|contestación)|\bnadie "
              r"(me |nos )?(responde|contesta|llama|ha |vino|viene|dice)|\bno (me |nos )?"
              r"(han )?(respondido|contestado|llamado|dicen nada)",
    },
    "repeated": {
        "en": r"\b(second|third|fourth|fifth|sixth|_num(st|nd|rd|th)?) (time|attempt|call|"
              r"email|message|outage|visit)|\b(yet|once) again\b|\b(again|another)[.!?]*$|"
              r"\b(two|three|four|five|six|seven|_num) (times|calls|emails|visits)",
        "nl": r"\b(tweede|derde|vierde|vijfde|_num(de|ste|e)?) (keer|maal|storing)|"
              r"\b(alweer|alwéér|wéér|weer eens|opnieuw|nogmaals)|\b(twee|drie|vier|vijf|zes|"
              r"_num) (keer|maal)",
        "fr": r"\b(deuxième|troisième|quatrième|cinquième|énième|_num(e|ème)?) (fois|appel|"
              r"relance|mail|panne)|\b(encore une fois|à nouveau|de nouveau|encore)\b|\b(deux|"
              r"trois|quatre|cinq|_num) (fois|appels|relances|mails)",
        "de": r"\b(zweite|dritte|vierte|fünfte|x-te|_num)[nrs]? (mal|anruf|mail|ausfall)|"
              r"\b(schon wieder|mal wieder|wieder mal|erneut|zum wiederholten)|\b(zwei|drei|"
              r"vier|fünf|_num) ?mal\b",
        "es": r"\b(segunda|tercera|cuarta|quinta|_num)(a|ª)? (vez|llamada|reclamación)|"
              r"\b(otra vez|de nuevo|una vez más|nuevamente)|\b(dos|tres|cuatro|cinco|_num) "
              r"(veces|llamadas|correos)",
    },
    "sarcasm": {
        "en": r"\bthanks? (you )?for nothing|\byeah,? right\b|\b(great|brilliant|"
              r"fantastic|perfect|lovely|wonderful|amazing|awesome|love it|love that|nice one|"
              r"fab|superb|genius|well done|good job|way to go)[,.!…]* (another|again|third|"
              r"second|yet|still|no |just|now|as usual|thanks for)|\boutdid yourselves|"
              r"\bslow clap|\bwhat a (joke|surprise|service)|[🙃🙄🤡👏]",
        "nl": r"\bbedankt voor (niets|niks)|\b(top|super|fijn|prima|geweldig|lekker|goed) "
              r"(hoor|bezig|geregeld)\b|\bwat een (service|grap|verrassing)|\b(toppie|"
              r"chapeau|knap hoor)|[🙃🙄🤡👏]",
        "fr": r"\bmerci pour (rien|ce fiasco)|\b(génial|super|bravo|parfait|formidable|"
              r"magnifique|top|chapeau)[,.!…]* (encore|une fois|encore une|un|une|le|la|"
              r"troisième|deuxième|rien)|\bj'adore\b|\bquel (service|bonheur|plaisir)|"
              r"[🙃🙄🤡👏]",
        "de": r"\bdanke für (nichts|nix)|\b(super|toll|klasse|prima|spitze|großartig|"
              r"grossartig|danke|bravo|herzlichen dank)[,.!…]* (mal wieder|schon wieder|wieder|"
              r"zum|auch)|\bna (toll|super|prima|klasse)|\bganz (toll|großes kino)|\bvielen dank "
              r"auch|[🙃🙄🤡👏]",
        "es": r"\bgracias por (nada|tanto)\b|\b(genial|estupendo|perfecto|maravilloso|bravo|"
              r"fenomenal|qué bien|qué maravilla|olé)[,.!…]* (otra|otro|de nuevo|una vez|"
              r"tercera|segunda|sin)|\b(menudo|vaya|qué) (servicio|atención|cachondeo|chiste)|"
              r"[🙃🙄🤡👏]",
    },
    "resolved": {
        "en": r"\b(fixed|sorted|resolved|solved|working|back up|back on|back online|"
              r"arrived|received|came through|refunded|credited)( now| again| already| today| "
              r"at last| out)?\b|\ball (good|sorted|fixed) now|\bthat did the trick",
        "nl": r"\b(opgelost|verholpen|gerepareerd|geregeld|ontvangen|teruggestort|binnen)\b|"
              r"\bwerkt (weer|nu|eindelijk|perfect)|\bdoet het weer",
        "fr": r"\b(résolu|réglé|réparé|rétabli|remboursé|reçu|arrivé)e?s?\b|\b(fonctionne|"
              r"marche|remarche) (à nouveau|de nouveau|enfin|parfaitement|nickel)|\bremarche",
        "de": r"\b(gelöst|behoben|erledigt|repariert|erstattet|angekommen|eingegangen|"
              r"gutgeschrieben)\b|\b(funktioniert|geht|läuft|klappt) (wieder|jetzt|endlich|"
              r"einwandfrei)",
        "es": r"\b(solucionado|resuelto|arreglado|reparado|reembolsado|recibido|llegó|ha "
              r"llegado)\b|\b(funciona|va) (de nuevo|otra vez|perfecto|bien)|\bvuelve a "
              r"funcionar|\bya (funciona|va|está)",
    },
    "praise": {
        "en": r"\b(great|excellent|amazing|brilliant|fantastic|superb|outstanding|top|"
              r"quick|fast|friendly|helpful) (service|job|work|support|help|team)|\bwell done|"
              r"\b(so|really|very) (happy|pleased|impressed|grateful)|\bkeep it up",
        "nl": r"\b(top|super|geweldig|prima|uitstekend|snel|vriendelijk)e? (service|hulp|"
              r"werk|medewerker|klantenservice)|\b(heel|erg|zeer) (tevreden|blij)|\bgoed geholpen",
        "fr": r"\b(super|excellent|top|parfait|génial|rapide|efficace|aimable)e?s? (service|"
              r"travail|accueil|équipe|conseiller|conseillère)|\b(très|vraiment|trop) "
              r"(content|contente|satisfait|satisfaite|ravi|ravie)|\bau top\b",
        "de": r"\b(super|toller|tolle|toll|klasse|spitze|top|schneller|schnelle|freundliche|"
              r"freundlicher|hervorragende|hervorragender) (service|arbeit|hilfe|kundenservice|"
              r"mitarbeiter|team)|\b(sehr|total|echt|wirklich) (zufrieden|begeistert|froh)",
        "es": r"\b(excelente|genial|estupendo|buen|buena|gran|rápido|rápida|amable) (servicio|"
              r"atención|trabajo|equipo|gestión)|\b(muy|súper|super|encantad[oa]) (content[oa]|"
              r"satisfech[oa]|agradecid[oa]|encantad[oa])|\bsois (los mejores|geniales)",
    },
    "not_bad": {
        "en": r"\bnot (bad|too bad|half bad|unhappy|disappointed)|\bcan'?t (complain|fault)|"
              r"\bno complaints|\bnever (had|have) (a|any) (problem|issue)|\bnothing but "
              r"(praise|good)",
        "nl": r"\bniet (slecht|onaardig|ontevreden|verkeerd)|\bgeen (klagen|klachten|"
              r"enkel probleem)|\bnooit (een )?(probleem|problemen|klachten)|\bmag niet klagen",
        "fr": r"\bpas mal\b|\brien à (redire|dire|reprocher)|\bjamais eu (de|un|aucun|le "
              r"moindre) (souci|problème)|\bpas (déçu|déçue|mécontent)|\baucun reproche",
        "de": r"\bnicht (schlecht|übel|unzufrieden|enttäuscht)|\bkann (mich )?nicht "
              r"(beschweren|klagen|meckern)|\bkeine (beschwerden|klagen)|\bnie (probleme|ärger)",
        "es": r"\bno (está|esta|estuvo) (nada )?mal|\bnada mal\b|\bningún problema en|\bninguna "
              r"queja|\bno (tengo|me puedo) (ninguna )?quej|\bnunca (he tenido|tuve|hemos "
              r"tenido) (un |ningún |ni un )?problema",
    },
    "no_problem": {
        "en": r"\bno (problem|worries|rush|hurry)",
        "nl": r"\bgeen (probleem|punt|zorgen|haast)",
        "fr": r"\b(pas de|aucun) (souci|problème|soucis)|\bpas grave",
        "de": r"\bkein (problem|stress|thema)|\bkeine (eile|sorge)",
        "es": r"\b(no (hay|pasa) (problema|nada|prisa))|\bsin (problema|prisa)",
    },
    "thanks": {lang: rf"\b({words})\b" for lang, words in _THANKS.items()},
    "question": {
        "en": r"^(how|what|when|where|which|who|why|can|could|do|does|is|are|will|would|"
              r"should|may|am)\b",
        "nl": r"^(hoe|wat|wanneer|waar|welke|wie|waarom|kan|kunnen|kun|moet|is|zijn|heb|"
              r"hebben|mag|wordt)\b",
        "fr": r"^(comment|quand|où|quel|quelle|quels|quelles|qui|pourquoi|est-ce|puis-je|"
              r"pouvez|peut-on|faut-il|combien)\b",
        "de": r"^(wie|was|wann|wo|welche|welcher|welches|wer|warum|kann|können|muss|müssen|"
              r"ist|sind|gibt|habe|haben|darf|wird)\b",
        "es": r"^(¿|cómo|como|qué|cuándo|dónde|cuál|quién|por qué|puedo|pueden|se puede|hay|"
              r"tengo|es posible|cuánto)",
    },
    "outage": {
        "en": r"\b(outage|down|no (signal|internet|service|power|heating|wifi|connection))\b",
        "nl": r"\b(storing|geen (bereik|internet|signaal|stroom|verbinding|verwarming))",
        "fr": r"\b(panne|coupure|pas de (réseau|connexion|courant|chauffage|internet)|plus de "
              r"(réseau|connexion|courant|internet))",
        "de": r"\b(störung|ausfall|kein (netz|internet|empfang|strom|signal)|keine "
              r"(verbindung|heizung))",
        "es": r"\b(avería|caída|sin (señal|internet|cobertura|luz|conexión|servicio|"
              r"calefacción))",
    },
}

# Greetings and sign-offs (every language at once: they never decide the sentiment).
GREETING = (r"hi|hello|hey|dear|good (morning|afternoon|evening|day)|greetings|to whom it may "
            r"concern|hoi|hallo|beste|geachte|goedemorgen|goedemiddag|goedenavond|dag|"
            r"bonjour|bonsoir|salut|madame|monsieur|cher|chère|chers|coucou|allô|"
            r"guten (tag|morgen|abend)|sehr geehrte[rn]?|liebe[rs]?|servus|grüezi|grüß gott|"
            r"moin|hola|buenos días|buenas tardes|buenas noches|buenas|estimad[oa]s?|"
            r"querid[oa]s?|señores|a quien corresponda")
SIGN_OFF = (r"(kind|best|warm|warmest|many|with) regards|regards|best wishes|best|cheers|"
            r"yours( sincerely| faithfully| truly)?|sincerely|all the best|take care|"
            r"met vriendelijke groet(en)?|vriendelijke groet(en)?|groet(en|jes)?|hartelijke "
            r"groet(en)?|mvg|hoogachtend|"
            r"cordialement|bien (cordialement|à vous)|salutations|sincères salutations|"
            r"bonne (journée|soirée)|à (bientôt|tantôt)|bisous|amicalement|"
            r"mit freundlichen grüßen|mit freundlichen grüssen|freundliche grüße|viele grüße|"
            r"viele grüsse|liebe grüße|liebe grüsse|beste grüße|gruß|grüße|grüsse|lg|mfg|"
            r"un saludo|saludos( cordiales)?|atentamente|cordialmente|un abrazo|besos")
# Thanks ending a message ("Thanks,\nIona"): a sign-off when followed by a comma or a name.
THANKS_SIGN_OFF = "|".join(_THANKS.values())
IN_ADVANCE = (r"(thanks|thank you) in advance|alvast (bedankt|dank)|bij voorbaat dank|"
              r"merci (d'avance|par avance|de votre compréhension)|d'avance merci|"
              r"(danke|vielen dank|besten dank) im voraus|im voraus (vielen )?dank|"
              r"gracias (de antemano|por adelantado|por su atención)|de antemano gracias")
