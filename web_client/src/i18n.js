// Every visible string goes through t(). French is the default; English is available through the
// lang-fr / lang-en buttons, and the choice is kept in localStorage (a preference, not a secret).

const STORAGE_KEY = "tc_lang";
const DEFAULT_LANG = "fr";

const MESSAGES = {
  fr: {
    "app.name": "Téléconsultation",
    "app.tagline": "Un médecin généraliste en vidéo, 24\u00a0h/24, 7\u00a0j/7",
    "app.emergency": "Ce service ne traite pas les urgences. En cas d'urgence, appelez le 15 ou le 112.",
    "app.loading": "Chargement…",
    "title.index": "Téléconsultation",
    "title.patient": "Téléconsultation · Patient",
    "title.physician": "Téléconsultation · Médecin",
    "title.supervisor": "Téléconsultation · Supervision",
    "lang.label": "Langue",
    "lang.fr": "Français",
    "lang.en": "English",
    "index.intro": "Choisissez votre espace.",
    "index.patient": "Je suis patient : consulter un médecin",
    "index.physician": "Je suis médecin : tableau de garde",
    "index.supervisor": "Je supervise le service : tableau de supervision",

    "login.title": "Connexion",
    "login.email": "Adresse e-mail",
    "login.password": "Mot de passe",
    "login.submit": "Se connecter",
    "login.busy": "Connexion…",
    "logout": "Se déconnecter",
    "signed_in_as": "Connecté·e : {name}",
    "error.invalid_credentials": "Adresse e-mail ou mot de passe incorrect.",
    "error.rate_limited": "Trop de tentatives. Réessayez dans quelques minutes.",
    "error.invalid_field": "Vérifiez les champs du formulaire.",
    "error.network": "Le serveur ne répond pas. Vérifiez votre connexion et réessayez.",
    "error.wrong_role_patient": "Ce compte n'est pas un compte patient. Utilisez l'espace qui lui correspond.",
    "error.wrong_role_physician": "Ce compte n'est pas un compte médecin. Utilisez l'espace qui lui correspond.",
    "error.wrong_role_supervisor": "Ce compte n'est pas un compte superviseur. Utilisez l'espace qui lui correspond.",
    "error.session_lost": "Votre session a expiré. Merci de vous reconnecter.",
    "error.unknown": "Une erreur est survenue ({code}).",
    "error.timeout": "Le serveur n'a pas répondu à temps. Réessayez.",
    "error.media": "Impossible d'accéder à la caméra ou au micro. Autorisez-les dans votre navigateur puis réessayez.",
    "error.already_active": "Vous avez déjà une demande en cours.",
    "error.consent_missing": "Vous devez accepter les conditions d'utilisation et la politique de données avant de consulter.",
    "error.quota_exceeded": "Vous avez atteint le nombre maximal de téléconsultations pour la période.",
    "error.in_call": "Terminez d'abord la consultation en cours.",
    "error.offer_not_found": "Cette demande n'est plus disponible.",
    "error.forbidden": "Action non autorisée pour ce compte.",
    "error.not_found": "Demande introuvable.",
    "error.illegal_transition": "Cette action n'est plus possible.",
    "error.conflict": "La situation a changé entre-temps. Réessayez.",
    "error.not_in_room": "La consultation n'est plus active.",
    "error.invalid_phone": "Ce numéro n'est pas un numéro de mobile valide. Saisissez un numéro de portable, par exemple 06 12 34 56 78.",
    "error.echo_busy": "Le test de connexion est momentanément indisponible.",

    "conn.offline": "Connexion au serveur perdue. Reconnexion en cours…",

    "video.local": "Votre image",
    "video.remote_patient": "Le médecin",
    "video.remote_physician": "Le patient",
    "video.unmute": "Activer le son",
    "media.audio_only": "Caméra indisponible : consultation en audio seulement.",
    "media.audio_mode": "Consultation en audio : la vidéo est coupée.",
    "video.remote_audio": "Appel audio, sans image",

    "patient.heading": "Consulter un médecin",
    "patient.now_heading": "Consulter maintenant",
    "patient.request_video": "Demander une consultation vidéo",
    "patient.request_audio": "Demander une consultation audio",
    "patient.request_again": "Faire une nouvelle demande",
    "patient.cancel": "Annuler ma demande",
    "patient.hangup": "Raccrocher",
    "patient.position_first": "Vous êtes 1er dans la file",
    "patient.position_n": "Position dans la file : {position}",
    "patient.eta": "Attente estimée : {range}",
    "patient.eta.range": "{min} à {max} min",
    "patient.eta.about": "environ {n} min",
    "patient.eta.under": "moins de {n} min",
    "patient.eta.under_minute": "moins d'une minute",
    "patient.eta.unknown": "Attente : estimation indisponible",
    "patient.peer_left": "Le médecin a perdu la connexion, patientez…",
    "patient.requeued": "Le médecin a perdu la connexion. Vous êtes de nouveau dans la file d'attente, à votre place : un médecin va vous prendre en charge.",
    "patient.state.idle": "Aucune demande en cours.",
    "patient.state.waiting": "En attente d'un médecin. Gardez cette page ouverte.",
    "patient.state.offered": "Un médecin va vous prendre en charge…",
    "patient.state.connecting": "Connexion avec {peer}…",
    "patient.state.reconnecting": "Connexion interrompue avec {peer}, reconnexion…",
    "patient.state.connected_video": "En consultation vidéo avec {peer}",
    "patient.state.connected_audio": "En consultation audio avec {peer}",
    "patient.state.ended": "Consultation terminée.",
    "patient.state.cancelled": "Votre demande a été annulée.",
    "patient.state.phone": "Un médecin va vous appeler au {number}",
    "patient.state.phone_no_number": "Un médecin va vous appeler sur votre mobile",
    "patient.phone.hint_waiting": "Gardez votre téléphone près de vous : l'appel peut venir d'un numéro masqué.",
    "patient.phone.hint_accepted": "Un médecin a pris votre demande : votre téléphone va sonner.",
    "patient.phone.hint_in_call": "Consultation par téléphone en cours.",
    "patient.phone.attempts_one": "Nous avons essayé de vous appeler une fois, sans réponse ({n} essai sur {max}). Un médecin va réessayer dans quelques minutes.",
    "patient.phone.attempts_many": "Nous avons essayé de vous appeler {n} fois, sans réponse ({n} essais sur {max}). Un médecin va réessayer dans quelques minutes.",
    "patient.ended.unreachable": "Nous n'avons pas pu vous joindre par téléphone malgré plusieurs essais. Votre demande est close.",
    "patient.ended.wrong_number": "Le numéro indiqué n'a pas permis de vous joindre. Vérifiez votre numéro de mobile et faites une nouvelle demande.",
    "patient.ended.phone_done": "Consultation par téléphone terminée.",
    "patient.ended.hangup_patient": "Consultation terminée : vous avez raccroché.",
    "patient.ended.hangup_physician": "Consultation terminée : le médecin a raccroché.",
    "patient.ended.cancelled": "Votre demande a été annulée.",
    "patient.ended.patient_lost": "Consultation interrompue : votre connexion a été perdue trop longtemps.",
    "patient.ended.abandoned": "Votre demande a été clôturée car la connexion a été perdue trop longtemps.",
    "patient.ended.other": "Votre demande est close.",
    "patient.ended.hint": "Vous pouvez faire une nouvelle demande si besoin.",
    "patient.peer_default": "le médecin",

    "check.title": "Tester mon équipement",
    "check.intro": "Caméra, micro et connexion : le test dure une dizaine de secondes.",
    "check.button": "Tester mon équipement",
    "check.again": "Refaire le test",
    "check.running_button": "Test en cours…",
    "check.running": "Test de la caméra et du micro…",
    "check.running_network": "Test de la connexion (5 secondes). Parlez pour voir le niveau du micro.",
    "check.running_network_quick": "Test rapide de la connexion avant votre demande…",
    "check.running_verdict": "Analyse du résultat…",
    "check.mic_level": "Niveau du micro",
    "check.video": "Votre équipement permet la vidéo.",
    "check.audio.no_camera": "Audio seulement : pas de caméra détectée.",
    "check.audio.camera_in_use": "Audio seulement : la caméra est déjà utilisée par une autre application.",
    "check.audio.camera_denied": "Audio seulement : l'accès à la caméra a été refusé.",
    "check.audio.network": "Audio seulement : votre connexion est trop faible pour la vidéo.",
    "check.phone.no_microphone": "Nous vous rappellerons par téléphone : aucun micro détecté.",
    "check.phone.permission_denied": "Nous vous rappellerons par téléphone : l'accès au micro a été refusé. Pour consulter en ligne, autorisez le micro dans votre navigateur puis refaites le test.",
    "check.phone.microphone_in_use": "Nous vous rappellerons par téléphone : le micro est déjà utilisé par une autre application.",
    "check.phone.network": "Nous vous rappellerons par téléphone : votre connexion est trop faible pour une consultation en ligne.",
    "check.no_network_test": "Le test de connexion n'a pas pu se faire ; vous pouvez tout de même demander la consultation.",
    "check.phone_next": "Indiquez votre numéro de mobile ci-dessous.",

    "phone.title": "Être rappelé·e par téléphone",
    "phone.intro": "Un médecin vous appelle sur votre mobile. Vous gardez votre place dans la même file d'attente.",
    "phone.recommended": "Recommandé pour vous",
    "phone.number": "Votre numéro de mobile",
    "phone.request": "Me faire rappeler",

    "ladder.menu": "Connexion difficile ?",
    "ladder.to_audio": "Passer en audio seulement",
    "ladder.to_phone": "Continuer par téléphone",
    "ladder.audio_now": "Consultation en audio seulement.",
    "ladder.audio_by_peer.patient": "Le médecin est passé en audio seulement pour soulager la connexion.",
    "ladder.audio_by_peer.gp": "Le patient est passé en audio seulement pour soulager la connexion.",
    "ladder.proposal.audio.down": "Le son et l'image ne passent plus depuis 15 secondes. Passez en audio seulement, ou continuez par téléphone.",
    "ladder.proposal.audio.poor": "La connexion est mauvaise depuis 10 secondes (pertes ou délai importants). Passez en audio seulement, ou continuez par téléphone.",
    "ladder.proposal.phone.down": "Le son ne passe toujours pas. Continuez la consultation par téléphone.",
    "ladder.proposal.phone.poor": "Même en audio, la connexion reste mauvaise. Continuez la consultation par téléphone.",
    "ladder.phone_hint.patient": "Par téléphone, le médecin vous appelle sur votre mobile.",
    "ladder.phone_hint.gp": "Par téléphone, vous appelez le patient sur son mobile.",

    "gp.heading": "Tableau de garde",
    "gp.go_available": "Me rendre disponible",
    "gp.go_unavailable": "Me rendre indisponible",
    "gp.status.unavailable": "Statut : indisponible",
    "gp.status.available": "Statut : disponible, en attente d'un patient",
    "gp.status.offered": "Statut : demande proposée",
    "gp.status.in_call": "Statut : en consultation",
    "gp.status.paused": "Statut : en pause, aucune proposition",
    "gp.status.wrap_up": "Statut : clôture de la consultation",
    "gp.confirm_available": "Je confirme ma disponibilité",
    "gp.ready": "Je suis prêt·e",
    "gp.paused_hint": "Deux propositions manquées : confirmez votre disponibilité pour recevoir de nouveau des demandes.",
    "gp.missed_offers": "Proposition manquée ({n}). À la deuxième de suite, les propositions sont suspendues.",
    "gp.wrap_up.countdown": "Clôture : {time} avant la prochaine proposition",
    "gp.wrap_up.over": "Clôture terminée : vous redevenez disponible…",
    "gp.queue_zero": "0 patient en attente",
    "gp.queue_one": "1 patient en attente · attente {wait}",
    "gp.queue_many": "{size} patients en attente · plus ancienne attente {wait}",
    "gp.at_risk_zero": "0 demande à risque de dépasser 30 min",
    "gp.at_risk_one": "1 demande risque de dépasser 30 min",
    "gp.at_risk_many": "{n} demandes risquent de dépasser 30 min",
    "gp.sla.one": "Alerte : une demande risque de dépasser le délai de 30 minutes",
    "gp.sla.many": "Alerte : {n} demandes risquent de dépasser le délai de 30 minutes",
    "gp.sla.detail": "Prise en charge prévue vers {start} pour une échéance à {deadline} · {size} en file",
    "gp.sla.detail_no_start": "Échéance à {deadline} · {size} en file",
    "gp.sla.dismiss": "Fermer",
    "gp.sla.dismiss_label": "Fermer l'alerte",
    "gp.offer.title": "Nouvelle demande de consultation",
    "gp.offer.title_phone": "Nouvelle demande : appel sur mobile",
    "gp.offer.text": "{name} attend depuis {wait}.",
    "gp.offer.text_phone": "Rappel téléphonique : {name} attend depuis {wait}.",
    "gp.offer.accept": "Accepter",
    "gp.offer.decline": "Refuser",
    "gp.offer.countdown": "Expire dans {n} s",
    "gp.end_call": "Terminer la consultation",
    "gp.state.idle": "Pas de consultation en cours.",
    "gp.state.offered": "Une demande vous est proposée.",
    "gp.state.connecting": "Connexion avec {peer}…",
    "gp.state.reconnecting": "Connexion interrompue avec {peer}, reconnexion…",
    "gp.state.connected_video": "En consultation vidéo avec {peer}",
    "gp.state.connected_audio": "En consultation audio avec {peer}",
    "gp.state.ended": "Consultation terminée.",
    "gp.state.phone": "Appelez {peer} sur son mobile.",
    "gp.state.phone_reached": "Consultation par téléphone avec {peer}",
    "gp.phone.title": "Appeler le patient",
    "gp.phone.text": "Appelez {name} depuis votre téléphone, puis indiquez le résultat de l'appel.",
    "gp.phone.text_reached": "Vous êtes en ligne avec {name}. Terminez ici quand la consultation est finie.",
    "gp.phone.call": "Appeler le {number}",
    "gp.phone.no_number": "Numéro indisponible",
    "gp.phone.first_attempt": "Premier essai d'appel ({max} essais au plus).",
    "gp.phone.attempts": "Essais précédents sans réponse : {n} sur {max}.",
    "gp.phone.reached": "Patient joint",
    "gp.phone.no_answer": "Pas de réponse",
    "gp.phone.wrong_number": "Mauvais numéro",
    "gp.phone.end": "Terminer la consultation par téléphone",
    "gp.phone.recorded_no_answer": "Pas de réponse enregistré : le patient sera rappelé dans quelques minutes.",
    "gp.phone.recorded_wrong_number": "Mauvais numéro enregistré : la demande est close.",
    "gp.ended.hangup_patient": "Consultation terminée : le patient a raccroché.",
    "gp.ended.hangup_physician": "Consultation terminée : vous avez raccroché.",
    "gp.ended.patient_lost": "Consultation terminée : le patient a perdu la connexion et n'est pas revenu à temps.",
    "gp.ended.physician_lost": "Consultation interrompue : votre connexion a été perdue trop longtemps, le patient a été remis dans la file.",
    "gp.ended.away": "La consultation s'est terminée pendant votre déconnexion.",
    "gp.ended.hint": "Rendez-vous disponible pour recevoir la demande suivante.",
    "gp.peer_grace": "Fin de la consultation dans {n} s s'il ne revient pas.",
    "gp.peer_left_wait": "Le patient a perdu la connexion, patientez…",
    "gp.peer_default": "le patient",

    "booking.title": "Prendre rendez-vous",
    "booking.intro": "Un créneau de 15 minutes, de 9 h à 22 h (heure de Paris), jusqu'à 14 jours à l'avance.",
    "booking.date": "Jour",
    "booking.loading": "Chargement des créneaux…",
    "booking.no_slots": "Aucun créneau libre ce jour-là. Essayez un autre jour.",
    "booking.pick": "Choisissez un créneau (heure de Paris) :",
    "booking.pick_new": "Choisissez le nouveau créneau (heure de Paris) :",
    "booking.slot_full": "Complet",
    "booking.slot_free_one": "1 place libre",
    "booking.slot_free_many": "{n} places libres",
    "booking.appointment.booked": "Votre rendez-vous : {when}.",
    "booking.appointment.queued": "Votre rendez-vous du {when} a commencé : vous êtes dans la file d'attente.",
    "booking.move": "Déplacer le rendez-vous",
    "booking.cancel": "Annuler le rendez-vous",
    "booking.move_hint": "Choisissez le nouveau créneau ci-dessous.",
    "booking.move_abort": "Ne pas déplacer",
    "booking.booked": "Rendez-vous confirmé.",
    "booking.moved": "Rendez-vous déplacé.",
    "booking.cancelled": "Rendez-vous annulé.",
    "booking.error.outside_hours": "Les rendez-vous sont possibles de 9 h à 22 h, heure de Paris.",
    "booking.error.too_far_ahead": "On ne peut pas prendre rendez-vous plus de 14 jours à l'avance.",
    "booking.error.in_the_past": "Ce moment est déjà passé. Choisissez un créneau à venir.",
    "booking.error.not_a_slot": "Ce n'est pas un créneau valide : les créneaux commencent tous les quarts d'heure.",
    "booking.error.slot_full": "Ce créneau est complet. Choisissez-en un autre.",
    "booking.error.already_booked": "Vous avez déjà un rendez-vous à venir : déplacez-le ou annulez-le d'abord.",
    "booking.error.consent_missing": "Vous devez accepter les conditions d'utilisation et la politique de données avant de prendre rendez-vous.",
    "booking.error.quota_exceeded": "Vous avez atteint le nombre maximal de téléconsultations pour la période.",
    "booking.error.not_found": "Ce rendez-vous n'existe plus.",
    "booking.error.illegal_transition": "Ce rendez-vous ne peut plus être modifié : il a commencé ou a été annulé.",
    "booking.error.invalid_field": "Date ou créneau invalide.",
    "when.day_at_time": "{day} à {time}",

    "board.heading": "Supervision en direct",
    "board.waiting": "En attente des données…",
    "board.updated": "Mis à jour à {time}",
    "board.queue.title": "File d'attente",
    "board.queue.size": "demandes en file",
    "board.queue.oldest": "plus ancienne attente (min:s)",
    "board.queue.at_risk": "à risque de dépasser 30 min",
    "board.queue.overdue": "en retard (échéance passée)",
    "board.served.title": "Prises en charge en moins de 30 min",
    "board.served.hour": "dernière heure",
    "board.served.day": "aujourd'hui (depuis minuit)",
    "board.served.detail": "{on_time} sur {total} à temps",
    "board.served.none": "aucune demande",
    "board.breaches": "Dépassements du délai : {hour} sur la dernière heure, {day} aujourd'hui",
    "board.gps.title": "Médecins",
    "board.gps.available": "disponibles",
    "board.gps.offered": "proposition en cours",
    "board.gps.in_call": "en consultation",
    "board.gps.wrap_up": "en clôture",
    "board.gps.paused": "en pause",
    "board.gps.unavailable": "indisponibles",
    "board.staffing.title": "Effectif conseillé",
    "board.staffing.needed_one": "{n} médecin nécessaire la prochaine heure ({on} en service)",
    "board.staffing.needed_many": "{n} médecins nécessaires la prochaine heure ({on} en service)",
    "board.staffing.arrivals": "Arrivées : {rate} par heure (dernière heure) · durée centrale d'une consultation : {minutes} min",
    "board.staffing.target": "Objectif : {share} % des demandes prises en charge en moins de {minutes} min.",
    "board.staffing.note": "Calcul Erlang C (M/M/N) : une estimation prudente, qui demande plutôt un médecin de trop, car les durées de consultation varient moins que ne le suppose le modèle.",
    "board.alerts.title": "Alertes : dépassements prévus",
    "board.alerts.none": "Aucune alerte.",
    "board.alert.raised": "Levée à {time}",
    "board.alert.deadline": "échéance {time}",
    "board.alert.start": "prise en charge prévue vers {time}",
    "board.alert.start_late": "prise en charge prévue vers {time} ({n} min de retard)",
    "board.alert.no_start": "aucun médecin en service",
    "board.alert.request": "demande …{id}",
    "board.news.one": "Nouvelle alerte : une demande risque de dépasser 30 minutes.",
    "board.news.many": "Nouvelles alertes : {n} demandes risquent de dépasser 30 minutes.",
    "board.appointments.title": "Rendez-vous des prochaines heures",
    "board.appointments.hour": "Heure",
    "board.appointments.booked": "Réservés / capacité",
    "board.appointments.gps": "Médecins au planning",
    "board.appointments.range": "{from}–{to}",
    "board.appointments.load": "{booked} / {capacity}",
    "board.appointments.full": "complet",
    "board.appointments.none": "Aucune heure à venir.",

    "duration.seconds": "{n} s",
    "duration.minutes": "{n} min",
    "duration.min_sec": "{m} min {s} s",
    "duration.hours": "{h} h {m} min",
    "time.unknown": "?",
  },
  en: {
    "app.name": "Teleconsultation",
    "app.tagline": "A general practitioner on video, 24/7",
    "app.emergency": "This is not an emergency service. In an emergency, call 15 or 112.",
    "app.loading": "Loading…",
    "title.index": "Teleconsultation",
    "title.patient": "Teleconsultation · Patient",
    "title.physician": "Teleconsultation · Physician",
    "title.supervisor": "Teleconsultation · Supervision",
    "lang.label": "Language",
    "lang.fr": "Français",
    "lang.en": "English",
    "index.intro": "Choose your space.",
    "index.patient": "I am a patient: see a doctor",
    "index.physician": "I am a physician: dispatch board",
    "index.supervisor": "I supervise the service: supervisor board",

    "login.title": "Sign in",
    "login.email": "Email address",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.busy": "Signing in…",
    "logout": "Sign out",
    "signed_in_as": "Signed in: {name}",
    "error.invalid_credentials": "Wrong email address or password.",
    "error.rate_limited": "Too many attempts. Try again in a few minutes.",
    "error.invalid_field": "Please check the form fields.",
    "error.network": "The server does not answer. Check your connection and try again.",
    "error.wrong_role_patient": "This is not a patient account. Please use the matching space.",
    "error.wrong_role_physician": "This is not a physician account. Please use the matching space.",
    "error.wrong_role_supervisor": "This is not a supervisor account. Please use the matching space.",
    "error.session_lost": "Your session has expired. Please sign in again.",
    "error.unknown": "Something went wrong ({code}).",
    "error.timeout": "The server did not answer in time. Try again.",
    "error.media": "Cannot use the camera or microphone. Allow them in your browser and try again.",
    "error.already_active": "You already have a request in progress.",
    "error.consent_missing": "You must accept the terms of use and the data policy before a consultation.",
    "error.quota_exceeded": "You have reached the maximum number of teleconsultations for the period.",
    "error.in_call": "Finish the current consultation first.",
    "error.offer_not_found": "This request is no longer available.",
    "error.forbidden": "This account may not do that.",
    "error.not_found": "Request not found.",
    "error.illegal_transition": "This action is no longer possible.",
    "error.conflict": "Things changed in the meantime. Try again.",
    "error.not_in_room": "The consultation is no longer active.",
    "error.invalid_phone": "This is not a valid mobile number. Enter a mobile phone number, for example 06 12 34 56 78.",
    "error.echo_busy": "The connection test is unavailable for the moment.",

    "conn.offline": "Connection to the server lost. Reconnecting…",

    "video.local": "You",
    "video.remote_patient": "The physician",
    "video.remote_physician": "The patient",
    "video.unmute": "Turn sound on",
    "media.audio_only": "Camera unavailable: audio-only consultation.",
    "media.audio_mode": "Audio consultation: video is off.",
    "video.remote_audio": "Audio call, no picture",

    "patient.heading": "See a doctor",
    "patient.now_heading": "See a doctor now",
    "patient.request_video": "Request a video consultation",
    "patient.request_audio": "Request an audio consultation",
    "patient.request_again": "Make a new request",
    "patient.cancel": "Cancel my request",
    "patient.hangup": "Hang up",
    "patient.position_first": "You are 1st in the queue",
    "patient.position_n": "Position in queue: {position}",
    "patient.eta": "Estimated wait: {range}",
    "patient.eta.range": "{min} to {max} min",
    "patient.eta.about": "about {n} min",
    "patient.eta.under": "under {n} min",
    "patient.eta.under_minute": "less than a minute",
    "patient.eta.unknown": "Wait: estimate unavailable",
    "patient.peer_left": "The doctor lost the connection, please wait…",
    "patient.requeued": "The doctor lost the connection. You are back in the queue, at your place: a doctor will take your request.",
    "patient.state.idle": "No request in progress.",
    "patient.state.waiting": "Waiting for a doctor. Keep this page open.",
    "patient.state.offered": "A doctor is about to take your request…",
    "patient.state.connecting": "Connecting to {peer}…",
    "patient.state.reconnecting": "Connection to {peer} interrupted, reconnecting…",
    "patient.state.connected_video": "In a video consultation with {peer}",
    "patient.state.connected_audio": "In an audio consultation with {peer}",
    "patient.state.ended": "Consultation over.",
    "patient.state.cancelled": "Your request was cancelled.",
    "patient.state.phone": "A doctor will call you on {number}",
    "patient.state.phone_no_number": "A doctor will call you on your mobile",
    "patient.phone.hint_waiting": "Keep your phone near you: the call may come from a hidden number.",
    "patient.phone.hint_accepted": "A doctor took your request: your phone is about to ring.",
    "patient.phone.hint_in_call": "Phone consultation in progress.",
    "patient.phone.attempts_one": "We tried to call you once, with no answer ({n} try of {max}). A doctor will try again in a few minutes.",
    "patient.phone.attempts_many": "We tried to call you {n} times, with no answer ({n} tries of {max}). A doctor will try again in a few minutes.",
    "patient.ended.unreachable": "We could not reach you by phone despite several tries. Your request is closed.",
    "patient.ended.wrong_number": "We could not reach you on the number given. Check your mobile number and make a new request.",
    "patient.ended.phone_done": "Phone consultation over.",
    "patient.ended.hangup_patient": "Consultation over: you hung up.",
    "patient.ended.hangup_physician": "Consultation over: the doctor hung up.",
    "patient.ended.cancelled": "Your request was cancelled.",
    "patient.ended.patient_lost": "Consultation interrupted: your connection was lost for too long.",
    "patient.ended.abandoned": "Your request was closed because the connection was lost for too long.",
    "patient.ended.other": "Your request is closed.",
    "patient.ended.hint": "You can make a new request if needed.",
    "patient.peer_default": "the doctor",

    "check.title": "Test my equipment",
    "check.intro": "Camera, microphone and connection: the test takes about ten seconds.",
    "check.button": "Test my equipment",
    "check.again": "Test again",
    "check.running_button": "Testing…",
    "check.running": "Testing the camera and microphone…",
    "check.running_network": "Testing the connection (5 seconds). Speak to see the microphone level.",
    "check.running_network_quick": "Quick connection test before your request…",
    "check.running_verdict": "Reading the result…",
    "check.mic_level": "Microphone level",
    "check.video": "Your equipment is ready for video.",
    "check.audio.no_camera": "Audio only: no camera found.",
    "check.audio.camera_in_use": "Audio only: the camera is already used by another application.",
    "check.audio.camera_denied": "Audio only: access to the camera was refused.",
    "check.audio.network": "Audio only: your connection is too weak for video.",
    "check.phone.no_microphone": "We will call you back by phone: no microphone found.",
    "check.phone.permission_denied": "We will call you back by phone: access to the microphone was refused. To consult online, allow the microphone in your browser and test again.",
    "check.phone.microphone_in_use": "We will call you back by phone: the microphone is already used by another application.",
    "check.phone.network": "We will call you back by phone: your connection is too weak for an online consultation.",
    "check.no_network_test": "The connection test could not run; you can still request the consultation.",
    "check.phone_next": "Enter your mobile number below.",

    "phone.title": "Get a call back by phone",
    "phone.intro": "A doctor calls you on your mobile. You keep your place in the same queue.",
    "phone.recommended": "Recommended for you",
    "phone.number": "Your mobile number",
    "phone.request": "Call me back",

    "ladder.menu": "Connection trouble?",
    "ladder.to_audio": "Switch to audio only",
    "ladder.to_phone": "Continue by phone",
    "ladder.audio_now": "Audio-only consultation.",
    "ladder.audio_by_peer.patient": "The doctor switched to audio only to ease the connection.",
    "ladder.audio_by_peer.gp": "The patient switched to audio only to ease the connection.",
    "ladder.proposal.audio.down": "Sound and picture have not come through for 15 seconds. Switch to audio only, or continue by phone.",
    "ladder.proposal.audio.poor": "The connection has been poor for 10 seconds (heavy loss or delay). Switch to audio only, or continue by phone.",
    "ladder.proposal.phone.down": "Sound still does not come through. Continue the consultation by phone.",
    "ladder.proposal.phone.poor": "Even with audio only, the connection is still poor. Continue the consultation by phone.",
    "ladder.phone_hint.patient": "By phone, the doctor calls you on your mobile.",
    "ladder.phone_hint.gp": "By phone, you call the patient on their mobile.",

    "gp.heading": "Dispatch board",
    "gp.go_available": "Go available",
    "gp.go_unavailable": "Go unavailable",
    "gp.status.unavailable": "Status: unavailable",
    "gp.status.available": "Status: available, waiting for a patient",
    "gp.status.offered": "Status: request offered",
    "gp.status.in_call": "Status: in consultation",
    "gp.status.paused": "Status: paused, no offers",
    "gp.status.wrap_up": "Status: wrapping up the consultation",
    "gp.confirm_available": "Confirm I am available",
    "gp.ready": "I'm ready",
    "gp.paused_hint": "Two offers missed: confirm you are available to receive requests again.",
    "gp.missed_offers": "Offer missed ({n}). After two in a row, offers are paused.",
    "gp.wrap_up.countdown": "Wrap-up: {time} before the next offer",
    "gp.wrap_up.over": "Wrap-up over: you are becoming available…",
    "gp.queue_zero": "0 patients waiting",
    "gp.queue_one": "1 patient waiting · waited {wait}",
    "gp.queue_many": "{size} patients waiting · longest wait {wait}",
    "gp.at_risk_zero": "0 requests at risk of exceeding 30 min",
    "gp.at_risk_one": "1 request at risk of exceeding 30 min",
    "gp.at_risk_many": "{n} requests at risk of exceeding 30 min",
    "gp.sla.one": "Alert: a request may exceed the 30-minute limit",
    "gp.sla.many": "Alert: {n} requests may exceed the 30-minute limit",
    "gp.sla.detail": "Expected to start around {start}, deadline {deadline} · {size} in the queue",
    "gp.sla.detail_no_start": "Deadline {deadline} · {size} in the queue",
    "gp.sla.dismiss": "Dismiss",
    "gp.sla.dismiss_label": "Dismiss the alert",
    "gp.offer.title": "New consultation request",
    "gp.offer.title_phone": "New request: call on a mobile",
    "gp.offer.text": "{name} has been waiting for {wait}.",
    "gp.offer.text_phone": "Phone callback: {name} has been waiting for {wait}.",
    "gp.offer.accept": "Accept",
    "gp.offer.decline": "Decline",
    "gp.offer.countdown": "Expires in {n} s",
    "gp.end_call": "End the consultation",
    "gp.state.idle": "No consultation in progress.",
    "gp.state.offered": "A request is offered to you.",
    "gp.state.connecting": "Connecting to {peer}…",
    "gp.state.reconnecting": "Connection to {peer} interrupted, reconnecting…",
    "gp.state.connected_video": "In a video consultation with {peer}",
    "gp.state.connected_audio": "In an audio consultation with {peer}",
    "gp.state.ended": "Consultation over.",
    "gp.state.phone": "Call {peer} on their mobile.",
    "gp.state.phone_reached": "Phone consultation with {peer}",
    "gp.phone.title": "Call the patient",
    "gp.phone.text": "Call {name} from your phone, then record how the call went.",
    "gp.phone.text_reached": "You are on the line with {name}. End here when the consultation is over.",
    "gp.phone.call": "Call {number}",
    "gp.phone.no_number": "Number unavailable",
    "gp.phone.first_attempt": "First try ({max} tries at most).",
    "gp.phone.attempts": "Earlier tries with no answer: {n} of {max}.",
    "gp.phone.reached": "Patient reached",
    "gp.phone.no_answer": "No answer",
    "gp.phone.wrong_number": "Wrong number",
    "gp.phone.end": "End the phone consultation",
    "gp.phone.recorded_no_answer": "No answer recorded: the patient will be called again in a few minutes.",
    "gp.phone.recorded_wrong_number": "Wrong number recorded: the request is closed.",
    "gp.ended.hangup_patient": "Consultation over: the patient hung up.",
    "gp.ended.hangup_physician": "Consultation over: you hung up.",
    "gp.ended.patient_lost": "Consultation over: the patient lost the connection and did not come back in time.",
    "gp.ended.physician_lost": "Consultation interrupted: your connection was lost for too long, the patient was put back in the queue.",
    "gp.ended.away": "The consultation ended while you were disconnected.",
    "gp.ended.hint": "Go available to receive the next request.",
    "gp.peer_grace": "The consultation ends in {n} s if they do not come back.",
    "gp.peer_left_wait": "The patient lost the connection, please wait…",
    "gp.peer_default": "the patient",

    "booking.title": "Book an appointment",
    "booking.intro": "A 15-minute slot, from 9 am to 10 pm (Paris time), up to 14 days ahead.",
    "booking.date": "Day",
    "booking.loading": "Loading the slots…",
    "booking.no_slots": "No free slot that day. Try another day.",
    "booking.pick": "Pick a slot (Paris time):",
    "booking.pick_new": "Pick the new slot (Paris time):",
    "booking.slot_full": "Full",
    "booking.slot_free_one": "1 place left",
    "booking.slot_free_many": "{n} places left",
    "booking.appointment.booked": "Your appointment: {when}.",
    "booking.appointment.queued": "Your appointment of {when} has started: you are in the queue.",
    "booking.move": "Move the appointment",
    "booking.cancel": "Cancel the appointment",
    "booking.move_hint": "Pick the new slot below.",
    "booking.move_abort": "Do not move",
    "booking.booked": "Appointment confirmed.",
    "booking.moved": "Appointment moved.",
    "booking.cancelled": "Appointment cancelled.",
    "booking.error.outside_hours": "Appointments are from 9 am to 10 pm, Paris time.",
    "booking.error.too_far_ahead": "Appointments cannot be booked more than 14 days ahead.",
    "booking.error.in_the_past": "This time has already passed. Pick a slot to come.",
    "booking.error.not_a_slot": "This is not a valid slot: slots start every quarter of an hour.",
    "booking.error.slot_full": "This slot is full. Pick another one.",
    "booking.error.already_booked": "You already have an upcoming appointment: move or cancel it first.",
    "booking.error.consent_missing": "You must accept the terms of use and the data policy before booking.",
    "booking.error.quota_exceeded": "You have reached the maximum number of teleconsultations for the period.",
    "booking.error.not_found": "This appointment no longer exists.",
    "booking.error.illegal_transition": "This appointment can no longer be changed: it has started or was cancelled.",
    "booking.error.invalid_field": "Invalid day or slot.",
    "when.day_at_time": "{day} at {time}",

    "board.heading": "Live supervision",
    "board.waiting": "Waiting for data…",
    "board.updated": "Updated at {time}",
    "board.queue.title": "Queue",
    "board.queue.size": "requests queued",
    "board.queue.oldest": "longest wait (min:s)",
    "board.queue.at_risk": "at risk of exceeding 30 min",
    "board.queue.overdue": "overdue (deadline passed)",
    "board.served.title": "Served within 30 min",
    "board.served.hour": "last hour",
    "board.served.day": "today (since midnight)",
    "board.served.detail": "{on_time} of {total} on time",
    "board.served.none": "no requests",
    "board.breaches": "Deadline breaches: {hour} in the last hour, {day} today",
    "board.gps.title": "Physicians",
    "board.gps.available": "available",
    "board.gps.offered": "offer pending",
    "board.gps.in_call": "in consultation",
    "board.gps.wrap_up": "wrapping up",
    "board.gps.paused": "paused",
    "board.gps.unavailable": "unavailable",
    "board.staffing.title": "Recommended staffing",
    "board.staffing.needed_one": "{n} GP needed next hour ({on} on duty)",
    "board.staffing.needed_many": "{n} GPs needed next hour ({on} on duty)",
    "board.staffing.arrivals": "Arrivals: {rate} per hour (last hour) · typical consultation: {minutes} min",
    "board.staffing.target": "Target: {share}% of requests served within {minutes} min.",
    "board.staffing.note": "Erlang C (M/M/N) estimate: conservative, it rather asks for one GP too many, since consultation times vary less than the model assumes.",
    "board.alerts.title": "Alerts: predicted breaches",
    "board.alerts.none": "No alerts.",
    "board.alert.raised": "Raised at {time}",
    "board.alert.deadline": "deadline {time}",
    "board.alert.start": "expected start around {time}",
    "board.alert.start_late": "expected start around {time} ({n} min late)",
    "board.alert.no_start": "no GP on duty",
    "board.alert.request": "request …{id}",
    "board.news.one": "New alert: a request may exceed 30 minutes.",
    "board.news.many": "New alerts: {n} requests may exceed 30 minutes.",
    "board.appointments.title": "Appointments in the next hours",
    "board.appointments.hour": "Hour",
    "board.appointments.booked": "Booked / capacity",
    "board.appointments.gps": "Rostered GPs",
    "board.appointments.range": "{from}–{to}",
    "board.appointments.load": "{booked} / {capacity}",
    "board.appointments.full": "full",
    "board.appointments.none": "No hours to come.",

    "duration.seconds": "{n} s",
    "duration.minutes": "{n} min",
    "duration.min_sec": "{m} min {s} s",
    "duration.hours": "{h} h {m} min",
    "time.unknown": "?",
  },
};

export const LANGUAGES = Object.freeze(Object.keys(MESSAGES));

let currentLang = DEFAULT_LANG;
const listeners = new Set();

function readStoredLang() {
  try {
    const stored = window.localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(stored) ? stored : null;
  } catch {
    return null; // storage disabled: French by default
  }
}

function storeLang(lang) {
  try {
    window.localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

export function getLang() {
  return currentLang;
}

/** Translate `key`, replacing `{name}` placeholders with `params.name`. */
export function t(key, params = {}) {
  const text = MESSAGES[currentLang][key] ?? MESSAGES[DEFAULT_LANG][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

/** True when `key` has a translation (used to prefer our text over a server message). */
export function hasMessage(key) {
  return Object.prototype.hasOwnProperty.call(MESSAGES[DEFAULT_LANG], key);
}

/** A duration for people: "42 s", "2 min", "1 h 5 min". */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 60) return t("duration.seconds", { n: s });
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return t("duration.minutes", { n: minutes });
  return t("duration.hours", { h: Math.floor(minutes / 60), m: minutes % 60 });
}

/** A countdown for people: "45 s", "2 min", "1 min 40 s" (hours are not expected here). */
export function formatCountdown(seconds) {
  const s = Math.max(0, Math.ceil(Number(seconds) || 0));
  if (s < 60) return t("duration.seconds", { n: s });
  const minutes = Math.floor(s / 60);
  const rest = s % 60;
  return rest ? t("duration.min_sec", { m: minutes, s: rest }) : t("duration.minutes", { n: minutes });
}

/** A server time (ISO 8601) as a local clock time "08:42" in the current language, or "?". */
export function formatClockTime(iso) {
  const at = typeof iso === "string" ? Date.parse(iso) : NaN;
  if (!Number.isFinite(at)) return t("time.unknown");
  const locale = currentLang === "fr" ? "fr-FR" : "en-GB";
  return new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" }).format(new Date(at));
}

/**
 * Fill every element marked with data-i18n (text) or data-i18n-attr ("attr:key;attr:key") under
 * `root`, and the document title from <body data-i18n-title>.
 */
export function applyTranslations(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((part) => part.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
  const titleKey = document.body?.dataset.i18nTitle;
  if (titleKey) document.title = t(titleKey);
}

function updateLanguageButtons() {
  for (const lang of LANGUAGES) {
    const button = document.querySelector(`[data-testid="lang-${lang}"]`);
    if (button) button.setAttribute("aria-pressed", String(lang === currentLang));
  }
}

/** Switch the language of the whole page, remember it, and tell the pages to re-render. */
export function setLang(lang) {
  if (!LANGUAGES.includes(lang)) return;
  currentLang = lang;
  storeLang(lang);
  document.documentElement.lang = lang;
  applyTranslations();
  updateLanguageButtons();
  for (const listener of listeners) listener(lang);
}

/** Call `listener(lang)` after every language change (pages re-render their dynamic text). */
export function onLangChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Read the stored choice (French by default), translate the page and wire lang-fr / lang-en. */
export function initI18n() {
  for (const lang of LANGUAGES) {
    const button = document.querySelector(`[data-testid="lang-${lang}"]`);
    if (button) button.addEventListener("click", () => setLang(lang));
  }
  setLang(readStoredLang() ?? DEFAULT_LANG);
}
